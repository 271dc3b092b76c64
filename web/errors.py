"""What a browser or an API client sees when something goes wrong: a clear message in Chinese
and English with the right status, never a traceback (that goes to the service's log only)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from engine.base.errors import (
    BadInput,
    DatabaseUnavailable,
    LoginRefused,
    NotFound,
    PermissionDenied,
    RectifyError,
    Refused,
)
from web.csrf import CsrfRefused
from web.render import page
from web.throttle import TooManyLogIns
from web.uploads import UploadTooLarge

log = logging.getLogger("rectify.web")


class LoginRequired(Exception):
    """No valid session: a page asks to log in (keeping a posted form's input), the API says 401."""


def status_of(exc: RectifyError) -> int:
    if isinstance(exc, LoginRefused):
        return 401
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, DatabaseUnavailable):
        return 503
    if isinstance(exc, Refused):
        return 409
    if isinstance(exc, BadInput):
        return 400
    return 400


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def api_error(status: int, message: str, code: int, retry_after: int | None = None) -> JSONResponse:
    if retry_after is None and status == 503:
        retry_after = 5
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": message, "exit_code": code}, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(RectifyError)
    async def project_error(request: Request, exc: RectifyError) -> Response:
        status = status_of(exc)
        if is_api(request):
            return api_error(status, str(exc), exc.exit_code)
        return page(request, "error.html", status, error_message=str(exc), status_code=status)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if is_api(request):
            return api_error(401, "未登录或令牌无效 / not logged in, or the token is not valid", 1)
        if request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        # A form posted after the session expired: its input is shown back, not lost silently.
        form = await request.form()
        kept = {k: v for k, v in form.multi_items() if isinstance(v, str) and k != "csrftoken"}
        dropped = [k for k, v in form.multi_items() if not isinstance(v, str)]
        return page(request, "login.html", 401, next=request.url.path, kept=kept, dropped_files=bool(dropped),
                    message="登录已过期，请重新登录；您填写的内容已保留在下方 / your session expired: log in again; "
                            "what you typed is kept below")

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, exc: CsrfRefused) -> Response:
        message = ("表单校验码缺失或不符，操作未执行。请返回上一页，刷新后重新提交 / the form's security token was "
                   "missing or did not match, so nothing was done: go back, reload the page and submit again")
        if is_api(request):
            return api_error(403, message, 1)
        return page(request, "error.html", 403, error_message=message, status_code=403)

    @app.exception_handler(TooManyLogIns)
    async def too_many(request: Request, exc: TooManyLogIns) -> Response:
        log.warning("failed log-ins from %s past the allowance", request.client.host if request.client else "?")
        return api_error(429, str(exc), 1, retry_after=exc.minutes * 60)

    @app.exception_handler(UploadTooLarge)
    async def too_large(request: Request, exc: UploadTooLarge) -> Response:
        if is_api(request):
            return api_error(413, str(exc), 2)
        return page(request, "error.html", 413, error_message=str(exc), status_code=413)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        message = {404: "页面不存在 / no such page", 405: "不支持的请求方式 / method not allowed",
                   413: "上传内容过大 / the upload is too large"}.get(exc.status_code, str(exc.detail))
        if is_api(request):
            return api_error(exc.status_code, message, 2)
        return page(request, "error.html", exc.status_code, error_message=message, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors())
        message = f"请求缺少或填错了字段：{fields} / missing or malformed fields: {fields}"
        if is_api(request):
            return api_error(400, message, 2)
        return page(request, "error.html", 400, error_message=message, status_code=400)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        message = "服务内部出错，已记入服务日志；请刷新页面，看所做的操作是否已生效 / an internal error occurred " \
                  "and was logged; reload the page to see whether your action took effect"
        if is_api(request):
            return api_error(500, message, 1)
        return page(request, "error.html", 500, error_message=message, status_code=500)
