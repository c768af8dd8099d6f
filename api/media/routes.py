"""Routes of media: upload a photo (through the app, or straight to storage with a ticket), read it back
with fresh URLs, take it back; and, for local-disk storage only, the signed file URLs and the ticket
upload target. Thin: parse, authorise, call a service, serialise."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, request, send_file
from werkzeug.datastructures import CombinedMultiDict, FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from api import ratelimit
from api.auth import current_user, login_required
from api.errors import ApiError, NotFound
from api.extensions import Blueprint, LinliParser, accepts
from api.media import schemas, services
from api.media.storage import API_MEDIA_PATH, LocalStorage, SignatureExpired, SignatureInvalid, get_storage

F = TypeVar("F", bound=Callable[..., Any])
MULTIPART = "multipart/form-data"
# The multipart envelope around a 10 MB photo (boundaries, part headers, a ticket's form fields).
ENVELOPE_BYTES = 64 * 1024
UPLOADS_PER_MINUTE = 60


class MultipartParser(LinliParser):
    """`form` is the whole multipart form: its text fields and its files, loaded by one schema."""

    def load_form(self, req: Any, schema: Any) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class MediaBlueprint(Blueprint):
    ARGUMENTS_PARSER = MultipartParser()


blp = MediaBlueprint(
    "media", __name__, url_prefix=API_MEDIA_PATH, description="Photos: upload, verification, signed URLs"
)


def upload_body(func: F) -> F:
    """Allow this view a 10 MB photo (the app's limit is 1 MB of JSON). A larger body is a 413 before it
    is read, when the client sent its Content-Length (wx.uploadFile does)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        request.max_content_length = services.MAX_UPLOAD_BYTES + ENVELOPE_BYTES
        try:
            return func(*args, **kwargs)
        except RequestEntityTooLarge:
            raise services.too_large() from None

    return wrapper  # type: ignore[return-value]


def _read(file: FileStorage) -> bytes:
    data = file.stream.read(services.MAX_UPLOAD_BYTES + 1)
    if len(data) > services.MAX_UPLOAD_BYTES:
        raise services.too_large()
    return data


def _limit_uploads(bucket: str) -> None:
    ratelimit.enforce(bucket, str(current_user().id), limit=UPLOADS_PER_MINUTE)


@blp.route("", methods=["POST"])
@upload_body
@login_required()
@accepts(MULTIPART)
@blp.arguments(schemas.MediaUploadArgs, location="files")
@blp.response(201, schemas.MediaSchema)
@blp.alt_response(413, description="Larger than 10 MB")
@blp.alt_response(415, description="Not a JPEG, PNG or WebP image (judged by its bytes), damaged, or too many pixels")
def upload_media(args: dict[str, Any]) -> Any:
    """Upload a photo the way `wx.uploadFile` sends it. It is stored without EXIF or GPS data, turned upright;
    only you can see it until it is attached to something (a report, an order…). The thumbnail follows."""
    _limit_uploads("media-upload")
    storage = get_storage()
    media = services.upload(current_user(), _read(args["file"]), storage)
    return services.present(media, storage)


@blp.route("/upload-tickets", methods=["POST"])
@login_required()
@blp.arguments(schemas.MediaUploadTicketArgs)
@blp.response(201, schemas.MediaUploadTicketSchema)
@blp.alt_response(413, description="The declared size is over 10 MB")
@blp.alt_response(429, description="Too many tickets open at once")
def create_upload_ticket(args: dict[str, Any]) -> Any:
    """Upload straight to storage: `wx.uploadFile({url, name: file_field, formData: form_data})` before
    `expires_at`, then `POST /media/{id}/complete`. The ticket admits one file of this type, ≤ 10 MB."""
    _limit_uploads("media-ticket")
    media, ticket = services.issue_upload_ticket(current_user(), args["content_type"], args["size"], get_storage())
    return {
        "id": media.id,
        "status": media.status,
        "upload": {"url": ticket.url, "form_data": ticket.fields},
        "expires_at": ticket.expires_at,
    }


@blp.route("/<uuid:media_id>/complete", methods=["POST"])
@login_required()
@blp.response(200, schemas.MediaSchema)
@blp.alt_response(404, description="No such upload of yours")
@blp.alt_response(409, description="Nothing was uploaded with the ticket yet")
@blp.alt_response(413, description="The uploaded file is over 10 MB")
@blp.alt_response(415, description="The uploaded file is not a JPEG, PNG or WebP image, or is damaged")
def complete_upload(media_id: uuid.UUID) -> Any:
    """Check what was uploaded with the ticket (a real photo, ≤ 10 MB), strip its EXIF/GPS data and make it
    ready to attach. Calling it again after success returns the same photo."""
    storage = get_storage()
    return services.present(services.complete_upload(current_user(), media_id, storage), storage)


@blp.route("/<uuid:media_id>", methods=["GET"])
@login_required()
@blp.response(200, schemas.MediaSchema)
@blp.alt_response(404, description="No such photo, or not one you may see")
def get_media(media_id: uuid.UUID) -> Any:
    """A photo with fresh URLs (valid for minutes), for its uploader, or for whoever may see the record it
    is attached to."""
    storage = get_storage()
    return services.present(services.get_visible(current_user(), media_id), storage)


@blp.route("/<uuid:media_id>", methods=["DELETE"])
@login_required()
@blp.response(204)
@blp.alt_response(404, description="No such photo of yours")
@blp.alt_response(409, description="Already attached to a record")
def delete_media(media_id: uuid.UUID) -> None:
    """Take back a photo you uploaded and have not attached to anything yet."""
    services.delete_own(current_user(), media_id, get_storage())


# ----------------------------------------------------------------------------------------------------
# Local-disk storage only: what the URLs and tickets handed out above point at
# ----------------------------------------------------------------------------------------------------


def _local_storage() -> LocalStorage:
    storage = get_storage()
    if not isinstance(storage, LocalStorage):
        raise NotFound()
    return storage


@blp.route("/files/<path:key>", methods=["GET"])
@blp.arguments(schemas.MediaFileArgs, location="query")
@blp.response(200, content_type="image/jpeg", description="the file (JPEG, PNG or WebP)")
@blp.alt_response(403, description="The link was altered or has expired")
@blp.alt_response(404, description="No such file")
def get_media_file(args: dict[str, Any], key: str) -> Response:
    """Local-disk storage: a file behind a signed URL from this API (`url`, `thumbnail_url`). Not a URL to build."""
    storage = _local_storage()
    try:
        path = storage.verify_url(key, args["expires"], args["signature"])
    except SignatureExpired:
        raise ApiError("media_url_expired") from None
    except SignatureInvalid:
        raise ApiError("media_url_invalid") from None
    if not path.is_file():
        raise NotFound()
    response = send_file(path, mimetype=_mimetype(key), conditional=True, etag=True, max_age=0)
    response.headers["Cache-Control"] = "private, max-age=600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response


def _mimetype(key: str) -> str:
    extension = key.rsplit(".", 1)[-1]
    return {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}.get(extension, "application/octet-stream")


@blp.route("/local-uploads", methods=["POST"])
@upload_body
@accepts(MULTIPART)
@blp.arguments(schemas.MediaLocalUploadArgs, location="form", content_type=MULTIPART, unknown="exclude")
@blp.response(204)
@blp.alt_response(403, description="The ticket's policy was altered, has expired, or does not allow this file")
@blp.alt_response(413, description="Larger than the ticket allows")
def local_upload(args: dict[str, Any]) -> None:
    """Local-disk storage: where an upload ticket's `url` points; takes the ticket's `form_data` and the
    file, like S3 takes a presigned POST. Not a URL to build."""
    form = {"key": args["key"], "Content-Type": args["content_type"], "policy": args["policy"]}
    form["signature"] = args["signature"]
    services.receive_local_upload(_local_storage(), form, _read(args["file"]))


blueprints = [blp]
