"""The register of document numbers (发文字号): ×组通〔2014〕12号 is the 12th document of the
prefix ×组通 in 2014.

Numbers of a (prefix, year) are unique and gapless: ``next_document_number`` takes the next one
in the caller's transaction, which also writes the document. The counter row it updates stays
locked until that transaction ends, so a concurrent issuer waits for it (PostgreSQL's row lock;
on SQLite every write transaction is ``BEGIN IMMEDIATE`` and holds the whole database) and a
rollback gives the number back. The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from sqlalchemy import Insert, update
from sqlalchemy.orm import Session

from engine.base.errors import DatabaseError, InvalidValue
from engine.store.models import DocumentCounter
from engine.store.widths import width

# GB/T 9704: the year in hexagonal brackets 〔〕, the sequence number without leading zeros.
_PATTERN = re.compile(r"(?P<prefix>[^〔〕\s]+)〔(?P<year>[0-9]{4})〕(?P<number>[1-9][0-9]*)号")


class DocumentNumber(NamedTuple):
    prefix: str
    year: int
    number: int


def next_document_number(session: Session, prefix: str, year: int) -> int:
    """The next number of ``prefix`` in ``year`` (1 for the first), taken in the session's
    transaction: held by it until it commits, given back if it rolls back."""
    _check(prefix, year)
    session.execute(_insert_if_missing(session, prefix, year))
    taken = session.scalar(
        update(DocumentCounter)
        .where(DocumentCounter.prefix == prefix, DocumentCounter.year == year)
        .values(last=DocumentCounter.last + 1)
        .returning(DocumentCounter.last))
    assert taken is not None, "the counter row was inserted just above"
    return taken


def _insert_if_missing(session: Session, prefix: str, year: int) -> Insert:
    """The counter row at 0, unless it exists. Two first issuers of a year do not both insert
    it: PostgreSQL makes the second wait for the first's transaction, then skips (or inserts,
    if the first rolled back). The dialect modules are imported here, when needed: loading
    PostgreSQL's costs every SQLite process 30 ms of start-up."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert
        return pg_insert(DocumentCounter).values(prefix=prefix, year=year, last=0) \
            .on_conflict_do_nothing(index_elements=["prefix", "year"])
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        return sqlite_insert(DocumentCounter).values(prefix=prefix, year=year, last=0) \
            .on_conflict_do_nothing(index_elements=["prefix", "year"])
    raise DatabaseError(f"发文字号登记只支持 SQLite 和 PostgreSQL / the register of document numbers needs "
                        f"SQLite or PostgreSQL, not {dialect}")


def format_document_number(prefix: str, year: int, number: int) -> str:
    """×组通〔2014〕12号."""
    _check(prefix, year)
    if number < 1:
        raise InvalidValue(f"发文字号的序号须从 1 起 / a document's number starts at 1, not {number}")
    return f"{prefix}〔{year}〕{number}号"


def parse_document_number(text: str) -> DocumentNumber:
    """×组通〔2014〕12号 → DocumentNumber("×组通", 2014, 12)."""
    found = _PATTERN.fullmatch(text.strip())
    if found is None:
        raise InvalidValue(f"发文字号“{text}”格式不对，应如 ×组通〔2014〕12号 / '{text}' is not a document number "
                           "such as ×组通〔2014〕12号")
    return DocumentNumber(found["prefix"], int(found["year"]), int(found["number"]))


def _check(prefix: str, year: int) -> None:
    """A prefix that formats and parses back as itself, within its column; a four-digit year."""
    limit = width(DocumentCounter.prefix)
    if not prefix or len(prefix) > limit or not _PATTERN.fullmatch(f"{prefix}〔2000〕1号"):
        raise InvalidValue(f"发文字号前缀“{prefix}”无效：须为 1 至 {limit} 个字符，不含空白和〔〕 / invalid "
                           f"document-number prefix '{prefix}': 1 to {limit} characters, no spaces or 〔〕")
    if not 1000 <= year <= 9999:
        raise InvalidValue(f"发文字号的年份“{year}”无效 / invalid document-number year {year}: four digits")
