"""Uploaded files, limited before they are kept: the request's declared size first (nothing
larger is read), then each file's while it is copied to a private temporary folder under its
own name made safe. The evidence service then judges each file's kind by its content."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from starlette.datastructures import FormData, UploadFile

from engine.store.evidence_files import safe_file_name

MAX_FILES = 10
CHUNK = 1 << 20


class UploadTooLarge(Exception):
    pass


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.0f} MiB"


async def parse_form(request: Request) -> FormData:
    """The request's form, parsed once (later calls get the same), after its declared size was
    found within what the largest upload may be: nothing larger is read."""
    max_bytes = request.app.state.store.evidence_files.max_bytes
    declared = request.headers.get("content-length")
    limit = max_bytes * MAX_FILES + (1 << 16)
    if declared is None or not declared.isdigit() or int(declared) > limit:
        raise UploadTooLarge(f"上传内容过大或未声明大小：每个文件不超过 {_mib(max_bytes)}，一次最多 {MAX_FILES} 个 / the "
                             f"upload is too large or has no declared size: at most {_mib(max_bytes)} a file, "
                             f"{MAX_FILES} files at once")
    return await request.form(max_files=MAX_FILES, max_fields=50)


async def spooled_uploads(request: Request, folder: Path, max_bytes: int) -> tuple[FormData, list[Path]]:
    """The form and its files copied into ``folder`` (one sub-folder each, so equal names do not
    collide); ``UploadTooLarge`` when the request or a file is over the limit."""
    form = await parse_form(request)
    paths = []
    for index, upload in enumerate(v for v in form.values() if isinstance(v, UploadFile)):
        if not upload.filename:
            continue  # the file field left empty
        paths.append(await _copy(upload, folder / str(index), max_bytes))
    return form, paths


async def _copy(upload: UploadFile, folder: Path, max_bytes: int) -> Path:
    folder.mkdir()
    target = folder / safe_file_name(Path(upload.filename or "file").name)
    size = 0
    with open(target, "xb") as out:
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(f"“{upload.filename}”超过 {_mib(max_bytes)}，未保存 / '{upload.filename}' is larger "
                                     f"than {_mib(max_bytes)}: nothing was stored")
            out.write(chunk)
    return target
