"""How ``rectify serve`` is configured: the database, the evidence store, the address the
service is reached at, and (for the demo and training) a fixed simulated clock.

The settings travel to uvicorn's worker processes through the environment, so every worker
builds the same application (``web.app:app_from_environment``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

ENV_DB = "RECTIFY_DB"
ENV_EVIDENCE = "RECTIFY_EVIDENCE_DIR"
ENV_BASE_URL = "RECTIFY_BASE_URL"
ENV_SERVE_NOW = "RECTIFY_SERVE_NOW"
ENV_SECURE = "RECTIFY_SECURE_COOKIES"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ServeConfig:
    db: str | None = None  # a URL or a SQLite path; None: RECTIFY_DB, then ./rectify.db
    evidence_dir: str | None = None
    base_url: str = DEFAULT_BASE_URL  # where officials reach the service: invitation links use it
    now_text: str | None = None  # a simulated clock for the whole service (the demo county lives in 2014)
    secure_cookies: bool | None = None  # None: Secure exactly when base_url is https

    @property
    def secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.base_url.lower().startswith("https://")

    def environment(self) -> dict[str, str]:
        """The settings as environment variables, for the worker processes."""
        env = {ENV_BASE_URL: self.base_url}
        if self.db:
            env[ENV_DB] = self.db
        if self.evidence_dir:
            env[ENV_EVIDENCE] = self.evidence_dir
        if self.now_text:
            env[ENV_SERVE_NOW] = self.now_text
        if self.secure_cookies is not None:
            env[ENV_SECURE] = "1" if self.secure_cookies else "0"
        return env

    @classmethod
    def from_environment(cls) -> ServeConfig:
        secure = os.environ.get(ENV_SECURE)
        return cls(db=os.environ.get(ENV_DB) or None, evidence_dir=os.environ.get(ENV_EVIDENCE) or None,
                   base_url=os.environ.get(ENV_BASE_URL) or DEFAULT_BASE_URL,
                   now_text=os.environ.get(ENV_SERVE_NOW) or None,
                   secure_cookies=None if secure is None else secure == "1")
