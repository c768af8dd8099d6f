"""Request and response shapes of the media routes."""

from __future__ import annotations

from typing import Any

from flask_smorest.fields import Upload
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import FileStorage

from api.fields import DateTime, Text
from api.media.images import ACCEPTED_CONTENT_TYPES
from api.media.models import MediaStatus


class FileField(Upload):
    """A multipart file part (a part without a filename is a text field, not a file)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> FileStorage:
        if not isinstance(value, FileStorage):
            raise ValidationError("Not a file." if value is not None else "Missing file.")
        return value


class MediaUploadArgs(Schema):
    file = FileField(
        required=True,
        metadata={"description": "the photo: JPEG, PNG or WebP, at most 10 MB (`wx.uploadFile` with `name: 'file'`)"},
    )


class MediaUploadTicketArgs(Schema):
    content_type = Text(
        required=True,
        validate=validate.OneOf(ACCEPTED_CONTENT_TYPES),
        metadata={"description": "type of the photo to upload; the ticket accepts only this type"},
    )
    size = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=1),
        metadata={"description": "size of the file in bytes (`wx.getFileInfo`); at most 10 MB"},
    )


class MediaSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.Enum(MediaStatus, by_value=True, required=True)
    content_type = Text(required=True)
    size = fields.Integer(allow_none=True, required=True, metadata={"description": "bytes of the stored photo"})
    width = fields.Integer(allow_none=True, required=True)
    height = fields.Integer(allow_none=True, required=True)
    url = Text(
        allow_none=True,
        required=True,
        metadata={"description": "the photo, without EXIF/GPS; valid until `url_expires_at`; null until ready"},
    )
    thumbnail_url = Text(
        allow_none=True,
        required=True,
        metadata={"description": "a JPEG at most 400 px on its longer side; null until it is made"},
    )
    url_expires_at = DateTime(allow_none=True, required=True)
    attached = fields.Boolean(attribute="is_attached", required=True)
    created_at = DateTime(required=True)


class MediaUploadFormSchema(Schema):
    url = Text(required=True, metadata={"description": "`wx.uploadFile({url})`"})
    file_field = fields.Constant(
        "file", required=True, metadata={"type": "string", "description": "`wx.uploadFile({name})`"}
    )
    form_data = fields.Dict(
        keys=Text(),
        values=Text(),
        required=True,
        metadata={"description": "`wx.uploadFile({formData})`, sent as is"},
    )


class MediaUploadTicketSchema(Schema):
    id = fields.UUID(required=True, metadata={"description": "the photo; `POST /media/{id}/complete` after uploading"})
    status = fields.Enum(MediaStatus, by_value=True, required=True)
    upload = fields.Nested(MediaUploadFormSchema, required=True)
    expires_at = DateTime(required=True, metadata={"description": "upload before this time"})


class MediaFileArgs(Schema):
    expires = fields.Integer(required=True)
    signature = Text(required=True, validate=validate.Length(min=1, max=128))


class MediaLocalUploadArgs(Schema):
    key = Text(required=True, validate=validate.Length(min=1, max=255))
    content_type = Text(required=True, data_key="Content-Type", validate=validate.Length(min=1, max=64))
    policy = Text(required=True, validate=validate.Length(min=1, max=2048))
    signature = Text(required=True, validate=validate.Length(min=1, max=128))
    file = FileField(required=True)
