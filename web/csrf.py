"""Every unsafe request from a browser carries the page's CSRF token (fastapi-csrf-protect: a
token signed into an HttpOnly, SameSite=Strict cookie, sent back in the form as ``csrftoken``).

The check is a dependency of the whole application, so no form can be added without it. The form
is parsed here first, within the upload limits (``web.uploads``), because the library reads the
token from an already parsed form. The API (``/api/``) authenticates by bearer token only and
never reads a cookie, so a browser cannot be made to call it with the official's rights: it
needs no token. A browser keeps one token while its cookie is valid, so a
form opened in one tab is not spoilt by a page loaded in another.
"""

from __future__ import annotations

from fastapi import Request, Response
from fastapi_csrf_protect import CsrfProtect
from fastapi_csrf_protect.exceptions import CsrfProtectError
from itsdangerous import BadData, URLSafeTimedSerializer

from web.uploads import UploadTooLarge, parse_form

FIELD = "csrftoken"
COOKIE = "rectify_csrf"
MAX_AGE = 12 * 3600  # as long as a session
SALT = "fastapi-csrf-token"  # the library's own, to read back the token its cookie signs
SAFE = {"GET", "HEAD", "OPTIONS"}
_secret = ""  # the key ``configure`` gave the library, kept to read back a browser's token


class CsrfRefused(Exception):
    """The form's token was missing or did not match its cookie."""


def configure(secret: str, secure: bool) -> None:
    """The library's configuration is process-wide: one application per worker process."""
    global _secret
    _secret = secret

    @CsrfProtect.load_config
    def settings() -> list[tuple[str, object]]:
        return [("secret_key", secret), ("cookie_key", COOKIE), ("cookie_samesite", "strict"),
                ("cookie_secure", secure), ("token_location", "body"), ("token_key", FIELD), ("max_age", MAX_AGE)]


async def check(request: Request) -> None:
    """The application-wide dependency: refuse an unsafe browser request without its token."""
    if request.method in SAFE or request.url.path.startswith("/api/"):
        return  # the API reads no cookie: only its bearer token says who calls
    try:
        await parse_form(request)
        await CsrfProtect().validate_csrf(request)
    except UploadTooLarge:
        raise
    except (CsrfProtectError, ValueError) as exc:
        raise CsrfRefused() from exc


def token_for(request: Request) -> tuple[str, str | None]:
    """The token to put in this page's forms, and the signed cookie to set (None: the browser's
    cookie is valid and stays)."""
    cookie = request.cookies.get(COOKIE)
    if cookie:
        try:
            return URLSafeTimedSerializer(_secret, salt=SALT).loads(cookie, max_age=MAX_AGE), None
        except BadData:
            pass
    token, signed = CsrfProtect().generate_csrf_tokens()
    return token, signed


def set_cookie(response: Response, signed: str | None) -> None:
    if signed is not None:
        CsrfProtect().set_csrf_cookie(signed, response)
