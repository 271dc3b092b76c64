"""The API's request bodies (pydantic, strict: a wrong type is a 400 naming the field)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class LogIn(Strict):
    name: str = Field(max_length=50, description="官员姓名 / the official's name")
    password: str = Field(max_length=128)
    client: str = Field(default="", max_length=100, description="who logs in from where, for the records")


class Issued(BaseModel):
    id: int | None = None
    token: str = Field(description="出示一次，妥善保管 / shown once: keep it safe")
    official: str


class Fire(Strict):
    trigger: str = Field(max_length=50)
    note: str | None = Field(default=None, max_length=4000, description="办理说明 / the note recorded with the event")


class FactValue(Strict):
    value: str | None = Field(max_length=4000, description="值（null 清除）/ the value as typed (null clears it)")


class NewToken(Strict):
    label: str = Field(default="", max_length=100)
    official: str | None = Field(default=None, description="管理员可为他人签发 / an administrator may issue one for another official")


class Who(BaseModel):
    official: str
    via: str
    admin: bool
