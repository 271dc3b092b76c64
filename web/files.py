"""A stored file sent back to a browser (evidence of a case, a file filed with a duty): verified
by the service against its hash before it gets here, and never served as a page of this site."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.responses import Response

from engine.services.evidence import Content

# shown in the browser (a PDF or an image); anything else is a download
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"}


def file_response(got: Content) -> Response:
    inline = got.media_type in INLINE_TYPES
    disposition = "inline" if inline else "attachment"
    return Response(got.data, media_type=got.media_type if inline else "application/octet-stream", headers={
        "content-disposition": f"{disposition}; filename*=UTF-8''{quote(got.name)}",
        # never a page of this site: no script, no form, even if a browser tried to render it
        "content-security-policy": "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
        "x-evidence-sha256": got.sha256,
    })
