"""Request and response shapes of events, bookings and the staff side."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate

from api.events import services
from api.events.models import BookingStatus, EventCategory, EventStatus
from api.fields import DateTime, Text
from api.masking import mask_phone
from api.pagination import CursorArgs


class EligibilitySchema(Schema):
    area_ids = fields.List(fields.UUID(), load_default=list, metadata={"description": "residents of these areas"})
    min_age = fields.Integer(load_default=None, validate=validate.Range(min=1, max=120), allow_none=True)
    party_members_only = fields.Boolean(load_default=False)


class EventSchema(Schema):
    id = fields.UUID(required=True)
    title = Text(required=True)
    description = Text(required=True)
    category = fields.Enum(EventCategory, by_value=True, required=True)
    venue = Text(required=True)
    area_id = fields.UUID(required=True)
    area_name = fields.Function(lambda e: e.area.name, required=True, metadata={"type": "string"})
    cover_url = fields.Method("cover", allow_none=True, required=True, metadata={"type": "string"})
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    booking_opens_at = DateTime(required=True)
    booking_closes_at = DateTime(required=True)
    capacity = fields.Integer(required=True)
    seats_left = fields.Integer(required=True)
    waitlist_limit = fields.Integer(required=True)
    waitlist_count = fields.Integer(required=True)
    max_companions = fields.Integer(required=True)
    cancel_cutoff_minutes = fields.Integer(required=True)
    eligibility = fields.Nested(EligibilitySchema, required=True)
    status = fields.Enum(EventStatus, by_value=True, required=True)
    cancel_reason = Text(allow_none=True, required=True)

    def cover(self, event: Any) -> str | None:
        if event.cover_media_id is None:
            return None
        from api.media.services import present
        from api.media.storage import get_storage

        photo = event.cover
        return present(photo, get_storage()).url if photo is not None else None


class EventListArgs(CursorArgs):
    category = fields.Enum(EventCategory, by_value=True, load_default=None)
    area_id = fields.UUID(load_default=None, metadata={"description": "a committee or estate: its events"})
    starts_from = DateTime(load_default=None)
    starts_until = DateTime(load_default=None)
    bookable_now = fields.Boolean(load_default=False)


class BookingArgs(Schema):
    party_size = fields.Integer(
        load_default=1, validate=validate.Range(min=1, max=20), metadata={"description": "1 + companions"}
    )


class BookingEventSchema(Schema):
    id = fields.UUID(required=True)
    title = Text(required=True)
    venue = Text(required=True)
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    status = fields.Enum(EventStatus, by_value=True, required=True)


class BookingSchema(Schema):
    id = fields.UUID(required=True)
    event_id = fields.UUID(required=True)
    status = fields.Enum(BookingStatus, by_value=True, required=True)
    party_size = fields.Integer(required=True)
    position = fields.Method(
        "waitlist_position", allow_none=True, required=True, metadata={"type": "integer", "description": "1 = next"}
    )
    ticket = fields.Method(
        "signed_ticket",
        allow_none=True,
        required=True,
        metadata={"type": "string", "description": "render as a QR code; present only when confirmed"},
    )
    created_at = DateTime(required=True)
    confirmed_at = DateTime(allow_none=True, required=True)
    cancelled_at = DateTime(allow_none=True, required=True)
    checked_in_at = DateTime(allow_none=True, required=True)
    event = fields.Nested(BookingEventSchema, required=True)

    def waitlist_position(self, booking: Any) -> int | None:
        return services.waitlist_position(booking)

    def signed_ticket(self, booking: Any) -> str | None:
        return services.ticket_for(booking, current_app.extensions["linli.settings"].secret_key)


class EventWriteSchema(Schema):
    title = Text(validate=validate.Length(min=1, max=64))
    description = Text(multiline=True, validate=validate.Length(max=5000))
    category = fields.Enum(EventCategory, by_value=True)
    venue = Text(validate=validate.Length(min=1, max=128))
    area_id = fields.UUID(metadata={"description": "organising area (default: my own)"})
    cover_media_id = fields.UUID(allow_none=True)
    starts_at = DateTime()
    ends_at = DateTime()
    booking_opens_at = DateTime()
    booking_closes_at = DateTime()
    capacity = fields.Integer(validate=validate.Range(min=1, max=100_000))
    waitlist_limit = fields.Integer(validate=validate.Range(min=0, max=100_000))
    max_companions = fields.Integer(validate=validate.Range(min=0, max=10))
    cancel_cutoff_minutes = fields.Integer(validate=validate.Range(min=0, max=30 * 24 * 60))
    eligibility = fields.Nested(EligibilitySchema)


class EventCreateArgs(EventWriteSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=64))
    category = fields.Enum(EventCategory, by_value=True, required=True)
    venue = Text(required=True, validate=validate.Length(min=1, max=128))
    starts_at = DateTime(required=True)
    ends_at = DateTime(required=True)
    booking_opens_at = DateTime(required=True)
    booking_closes_at = DateTime(required=True)
    capacity = fields.Integer(required=True, validate=validate.Range(min=1, max=100_000))
    waitlist_limit = fields.Integer(required=True, validate=validate.Range(min=0, max=100_000))
    description = Text(multiline=True, load_default="", validate=validate.Length(max=5000))
    max_companions = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10))
    cancel_cutoff_minutes = fields.Integer(load_default=120, validate=validate.Range(min=0, max=30 * 24 * 60))


class EventPatchArgs(EventWriteSchema):
    pass


class CancelEventArgs(Schema):
    reason = Text(required=True, validate=validate.Length(min=1, max=200))


class CheckInArgs(Schema):
    ticket = Text(required=True, validate=validate.Length(min=1, max=200))


class AttendeeSchema(Schema):
    booking_id = fields.UUID(attribute="id", required=True)
    user_id = fields.UUID(required=True)
    nickname = fields.Function(lambda b: b.user.nickname, required=True, metadata={"type": "string"})
    phone = fields.Function(
        lambda b: mask_phone(b.user.phone), allow_none=True, required=True, metadata={"type": "string"}
    )
    status = fields.Enum(BookingStatus, by_value=True, required=True)
    party_size = fields.Integer(required=True)
    waitlist_seq = fields.Integer(allow_none=True, required=True)
    created_at = DateTime(required=True)
    checked_in_at = DateTime(allow_none=True, required=True)


class EventFiguresSchema(Schema):
    capacity = fields.Integer(required=True)
    confirmed_bookings = fields.Integer(required=True)
    confirmed_seats = fields.Integer(required=True)
    seats_left = fields.Integer(required=True)
    waitlisted = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)
    checked_in = fields.Integer(required=True)
    no_shows = fields.Integer(allow_none=True, required=True, metadata={"description": "null until the event ends"})
    viewers = fields.Dict(
        keys=Text(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "unique viewers: live and replay"},
    )


class AdminEventListArgs(CursorArgs):
    status = fields.Enum(EventStatus, by_value=True, load_default=None)


class HelpersArgs(Schema):
    slots = fields.Integer(required=True, validate=validate.Range(min=1, max=200), metadata={"description": "helpers"})
    note = Text(load_default="", validate=validate.Length(max=200), metadata={"description": "what they will do"})


class HelpersAnswerSchema(Schema):
    event_id = fields.UUID(required=True)
    slots = fields.Integer(required=True)
    answers = fields.Dict(
        keys=Text(),
        required=True,
        metadata={"description": "what took the request (volunteers: the task made for it)"},
    )
