"""Request and response shapes of incidents: the catalogue, reports, the timeline, staff actions, statistics."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate, validates_schema

from api.errors import ApiError
from api.fields import DateTime, PersonalText, PersonalTextValues, Text
from api.incidents import services
from api.incidents.models import HandlingUnitKind, IncidentStatus
from api.masking import mask_phone
from api.pagination import CursorArgs

# --------------------------------------------------------------------------------------------------
# The catalogue
# --------------------------------------------------------------------------------------------------


class AttributeValueSchema(Schema):
    key = Text(required=True)
    name = Text(required=True)


class CategoryAttributeSchema(Schema):
    code = Text(required=True)
    datatype = Text(
        required=True,
        metadata={"enum": ["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]},
    )
    required = fields.Boolean(required=True)
    description = Text(required=True)
    values = fields.List(fields.Nested(AttributeValueSchema), load_default=list, dump_default=list)


class IncidentCategorySchema(Schema):
    code = Text(required=True, metadata={"description": 'e.g. "env.dumping"'})
    parent_code = fields.Function(
        lambda c: c.parent.code if c.parent is not None else None,
        required=True,
        allow_none=True,
        metadata={"type": "string", "description": "null for a top-level category (大类)"},
    )
    name_zh = Text(required=True)
    name_en = Text(required=True)
    time_limit_hours = fields.Integer(required=True, metadata={"description": "办结时限, counted from acceptance"})
    photo_required = fields.Boolean(required=True)
    attributes = fields.List(fields.Nested(CategoryAttributeSchema), required=True)


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


class LocationSchema(Schema):
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-90, max=90))
    lng = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=-180, max=180))
    address = Text(load_default=None, allow_none=True, validate=validate.Length(max=200))


class IncidentCreateArgs(Schema):
    category = Text(required=True, validate=validate.Length(min=1, max=64), metadata={"example": "env.dumping"})
    description = Text(multiline=True, required=True, validate=validate.Length(max=2000))
    location = fields.Nested(LocationSchema, required=True)
    media_ids = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=services.MAX_PHOTOS),
        metadata={"description": f"uploaded photos (POST /media), at most {services.MAX_PHOTOS}"},
    )
    attributes = fields.Dict(
        keys=Text(),
        load_default=dict,
        metadata={"description": "the category's extra fields, by attribute code"},
    )
    area_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "the estate or committee it is in; default: the reporter's home estate"},
    )


class IncidentSummarySchema(Schema):
    id = fields.UUID(required=True)
    category = fields.Function(lambda i: i.category.code, required=True, metadata={"type": "string"})
    category_name = fields.Function(lambda i: i.category.name_zh, required=True, metadata={"type": "string"})
    status = fields.Enum(IncidentStatus, by_value=True, required=True)
    # Residents who follow a merged report read the reporter's words and the staff's notes: masked for them.
    status_note = PersonalText(required=True, allow_none=True)
    description = PersonalText(required=True, author="reporter_id")
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)
    address = PersonalText(required=True, allow_none=True, author="reporter_id")
    area_id = fields.UUID(required=True, allow_none=True)
    area_name = fields.Function(
        lambda i: i.area.full_name if i.area is not None else None,
        required=True,
        allow_none=True,
        metadata={"type": "string"},
    )
    merged_into_id = fields.UUID(required=True, allow_none=True)
    created_at = DateTime(required=True)
    updated_at = DateTime(required=True)
    due_at = DateTime(required=True, allow_none=True)
    resolved_at = DateTime(required=True, allow_none=True)
    closed_at = DateTime(required=True, allow_none=True)


class PossibleDuplicateSchema(Schema):
    id = fields.UUID(required=True)
    status = fields.Enum(IncidentStatus, by_value=True, required=True)
    # Another resident's report: its address is what that resident typed.
    address = PersonalText(required=True, allow_none=True, author="reporter_id")
    lat = fields.Float(required=True, allow_none=True)
    lng = fields.Float(required=True, allow_none=True)
    created_at = DateTime(required=True)


class IncidentCreatedSchema(IncidentSummarySchema):
    possible_duplicates = fields.List(
        fields.Nested(PossibleDuplicateSchema),
        required=True,
        metadata={"description": "open reports of the same category within ~50 m in the last 24 h"},
    )


class TimelineEntrySchema(Schema):
    action = fields.String(required=True)
    from_status = fields.String(required=True, allow_none=True)
    to_status = fields.String(required=True, allow_none=True)
    note = PersonalText(required=True, allow_none=True, author="actor_id")
    at = DateTime(required=True)
    by = fields.Method("who", required=True, metadata={"type": "string", "enum": ["resident", "staff", "system"]})

    def who(self, entry: Any) -> str:
        if entry.actor_id is None:
            return "system"
        return "staff" if entry.actor is not None and entry.actor.is_staff else "resident"


class StaffTimelineEntrySchema(TimelineEntrySchema):
    actor_id = fields.UUID(required=True, allow_none=True)
    actor_name = fields.Function(
        lambda e: (e.actor.username or e.actor.nickname) if e.actor is not None else None,
        required=True,
        allow_none=True,
        metadata={"type": "string"},
    )
    data = fields.Dict(required=True)


class PhotoSchema(Schema):
    id = fields.UUID(required=True)
    url = Text(required=True, allow_none=True)
    thumbnail_url = Text(required=True, allow_none=True)
    url_expires_at = DateTime(required=True, allow_none=True)


def _presented(rows: list[Any]) -> list[Any]:
    from api.media.services import present
    from api.media.storage import get_storage

    storage = get_storage()
    return [present(m, storage) for m in rows]


class IncidentDetailSchema(IncidentSummarySchema):
    photos = fields.Method("photos_", required=True, metadata={"type": "array", "items": {"type": "object"}})
    result_photos = fields.Method(
        "result_photos_",
        required=True,
        metadata={"type": "array", "items": {"type": "object"}, "description": "the handler's closing photos"},
    )
    timeline = fields.Method("timeline_", required=True, metadata={"type": "array", "items": {"type": "object"}})
    attributes = PersonalTextValues(required=True, author="reporter_id")
    feedback_score = fields.Integer(required=True, allow_none=True)
    feedback_comment = PersonalText(required=True, allow_none=True, author="reporter_id")
    can_give_feedback = fields.Function(
        lambda i: i.status == IncidentStatus.RESOLVED, required=True, metadata={"type": "boolean"}
    )
    timeline_schema: type[Schema] = TimelineEntrySchema

    def photos_(self, incident: Any) -> list[Any]:
        return PhotoSchema(many=True).dump(_presented(services.photos(incident)))

    def result_photos_(self, incident: Any) -> list[Any]:
        return PhotoSchema(many=True).dump(_presented(services.result_photos(incident)))

    def timeline_(self, incident: Any) -> list[Any]:
        return self.timeline_schema(many=True).dump(services.timeline(incident))


class FeedbackArgs(Schema):
    score = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=5))
    comment = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=200))


# --------------------------------------------------------------------------------------------------
# Staff
# --------------------------------------------------------------------------------------------------


class AdminIncidentListArgs(CursorArgs):
    status = fields.Enum(IncidentStatus, by_value=True, load_default=None)
    category = Text(load_default=None, metadata={"description": "a category code (a parent: all its leaves)"})
    area_id = fields.UUID(load_default=None, metadata={"description": "a committee or estate"})
    overdue = fields.Boolean(load_default=None, allow_none=True)


class AdminIncidentSummarySchema(IncidentSummarySchema):
    source = Text(attribute="source.value", required=True)
    escalation_level = fields.Integer(required=True)
    overdue = fields.Boolean(attribute="is_overdue", required=True)
    assigned_unit_id = fields.UUID(required=True, allow_none=True)
    assignee_id = fields.UUID(required=True, allow_none=True)
    reopen_count = fields.Integer(required=True)


class ReporterSchema(Schema):
    id = fields.UUID(required=True)
    nickname = Text(required=True)
    phone = fields.Function(lambda u: mask_phone(u.phone), required=True, allow_none=True, metadata={"type": "string"})


class AdminIncidentDetailSchema(IncidentDetailSchema, AdminIncidentSummarySchema):
    reporter = fields.Nested(ReporterSchema, required=True, allow_none=True)
    partner_id = fields.UUID(required=True, allow_none=True)
    external_media_urls = fields.List(Text(), required=True)
    allowed_actions = fields.Function(
        lambda i: services.allowed_actions(i.status),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    timeline_schema = StaffTimelineEntrySchema


class TransitionArgs(Schema):
    action = Text(required=True, validate=validate.OneOf(services.ACTIONS))
    reason = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=500))
    note = Text(multiline=True, load_default=None, allow_none=True, validate=validate.Length(max=500))
    category = Text(load_default=None, allow_none=True, metadata={"description": "reclassify: the new code"})
    area_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "accept/reclassify: its area"})
    unit_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "dispatch: a handling unit"})
    assignee_id = fields.UUID(load_default=None, allow_none=True, metadata={"description": "dispatch: a person"})
    media_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=services.MAX_PHOTOS))


class MergeArgs(Schema):
    into = fields.UUID(required=True, metadata={"description": "the surviving case"})


class HandlingUnitArgs(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.Enum(HandlingUnitKind, by_value=True, required=True)
    area_id = fields.UUID(load_default=None, allow_none=True)

    @validates_schema
    def _name_not_blank(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if not data["name"].strip():
            raise ApiError("validation_failed", errors={"name": ["must not be blank"]})


class HandlingUnitSchema(Schema):
    id = fields.UUID(required=True)
    name = Text(required=True)
    kind = fields.Enum(HandlingUnitKind, by_value=True, required=True)
    area_id = fields.UUID(required=True, allow_none=True)


class StatsArgs(Schema):
    from_ = DateTime(data_key="from", required=True)
    to = DateTime(required=True)
    group_by = Text(load_default="committee", validate=validate.OneOf(("committee", "category")))


class StatsRowSchema(Schema):
    key = Text(required=True, metadata={"description": "committee code or category code"})
    name = Text(required=True)
    received = fields.Integer(required=True)
    closed = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    closure_rate = fields.Float(
        required=True, allow_none=True, metadata={"description": "closed / (received − rejected)"}
    )
    median_handling_hours = fields.Float(required=True, allow_none=True)
    p90_handling_hours = fields.Float(required=True, allow_none=True)
    overdue = fields.Integer(required=True)
    feedback_count = fields.Integer(required=True)
    satisfaction_rate = fields.Float(required=True, allow_none=True, metadata={"description": "scores ≥ 4 / scores"})


class StatsSchema(Schema):
    group_by = Text(required=True)
    from_ = DateTime(data_key="from", required=True)
    to = DateTime(required=True)
    rows = fields.List(fields.Nested(StatsRowSchema), required=True)
    total = fields.Nested(StatsRowSchema, required=True)
