"""Open311 GeoReport v2 rules: partner keys, the service catalogue, finding and presenting requests, filing one.

The GeoReport vocabulary maps onto the incidents domain like this:
- a *service* is a leaf incident category (`service_code` = its code, `group` = its parent's name);
  a category with extra fields has `metadata: true` and a service definition listing them;
- a *service request* is an incident: `open` while its status is open, `closed` once closed or rejected,
  and a case merged into another is reported `closed` with a note naming the surviving request;
- filing a request creates exactly the incident the mini-program would (`create_incident`), with
  `source="open311"` and the partner key's id as `partner_id`, synchronously — so the POST answers with
  the `service_request_id` itself and a token is simply that id.

Public output never names the reporter: no user, account, phone, openid or contact field is read or
written here, and phone and ID-card numbers typed into a description, an address or a staff note are masked
(`api.masking.mask_personal_numbers`, however they were written). The contact fields the spec lets a
client send (email, names, phone, device_id, account_id) are accepted and dropped.
Callable without Flask: functions take plain values and work on `db.session`; the caller commits.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import not_, or_, select

from api.db import db, utcnow
from api.errors import ApiError
from api.fields import LOCAL_TZ, TimeOutOfRange, shift, to_utc
from api.incidents import services as incident_services
from api.incidents.models import OPEN_STATUSES, Incident, IncidentCategory
from api.masking import mask_personal_numbers
from api.open311.models import Open311Key

# GeoReport v2: "Default query limit is a span of 90 days or first 1000 requests returned, whichever is smallest."
MAX_REQUESTS = 1000
WINDOW = timedelta(days=90)
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
# When this API surface last changed (discovery `changeset`); bump it with any change clients should notice.
CHANGESET = "2026-12-02T00:00:00+08:00"
LIST_DATATYPES = ("singlevaluelist", "multivaluelist")
KEY_PREFIX_LENGTH = 8
MAX_MEDIA_URL = 500

# The incidents domain's field names (as its ApiErrors name them) -> the Open311 argument a client sent.
FIELD_NAMES = {
    "category": "service_code",
    "category_code": "service_code",
    "location.lat": "lat",
    "location.lng": "long",
    "lat": "lat",
    "lng": "long",
    "location": "lat/long",
    "location.address": "address_string",
    "address": "address_string",
    "external_media_urls": "media_url",
    "media_ids": "media_url",
}

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _t(zh: str, en: str, english: bool) -> str:
    return en if english else zh


def _invalid(errors: dict[str, list[str]]) -> ApiError:
    """Bad input, field by field (the routes turn it into one Open311 error per problem, HTTP 400)."""
    return ApiError("validation_failed", status=400, errors=errors)


# ----------------------------------------------------------------------------------------------------
# Partner keys
# ----------------------------------------------------------------------------------------------------


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(name: str) -> tuple[Open311Key, str]:
    """A new key for the partner `name`: the row, and the plain key (shown once, stored only as a digest)."""
    name = (name or "").strip()
    if not name or len(name) > 64:
        raise ValueError("the partner name must be 1–64 characters")
    plain = secrets.token_urlsafe(32)
    key = Open311Key(name=name, key_hash=_digest(plain), key_prefix=plain[:KEY_PREFIX_LENGTH])
    db.session.add(key)
    db.session.flush()
    return key, plain


def revoke_keys(name: str, *, now: datetime | None = None) -> int:
    """Revoke every active key of the partner `name`; how many were revoked."""
    keys = db.session.scalars(select(Open311Key).where(Open311Key.name == name, Open311Key.revoked_at.is_(None)))
    count = 0
    for key in keys:
        key.revoked_at = now or utcnow()
        count += 1
    db.session.flush()
    return count


def authenticate(api_key: Any) -> Open311Key:
    """The active key presented as `api_key`; a 403 when it is missing, unknown or revoked."""
    if not isinstance(api_key, str) or not api_key or len(api_key) > 256:
        raise ApiError("open311_api_key_invalid")
    key = db.session.scalar(select(Open311Key).where(Open311Key.key_hash == _digest(api_key)))
    if key is None or not key.active:
        raise ApiError("open311_api_key_invalid")
    key.last_used_at = utcnow()
    return key


# ----------------------------------------------------------------------------------------------------
# Services (the category catalogue)
# ----------------------------------------------------------------------------------------------------


def list_services() -> list[IncidentCategory]:
    """The categories a report can name: active leaves under an active parent, in catalogue order."""
    return [
        c
        for c in incident_services.list_categories(active_only=True)
        if c.is_leaf and (c.parent is None or c.parent.active)
    ]


def get_service(service_code: str) -> IncidentCategory:
    category = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == service_code))
    if category is None or not category.active or not category.is_leaf:
        raise ApiError("open311_unknown_service", service_code=service_code)
    return category


def _name(category: IncidentCategory | None, english: bool) -> str | None:
    if category is None:
        return None
    return (category.name_en or category.name_zh) if english else category.name_zh


def service_notice(category: IncidentCategory, english: bool) -> str:
    hours = category.time_limit_hours
    return _t(
        f"受理后 {hours} 小时内处置完毕",
        f"Handled within {hours} hours of acceptance",
        english,
    )


def present_service(category: IncidentCategory, english: bool = False) -> dict[str, Any]:
    description = service_notice(category, english)
    if category.photo_required:
        description += _t("；须附照片（media_url）", "; a photo (media_url) is required", english)
    keywords = dict.fromkeys(k for k in (category.name_zh, category.name_en, _name(category.parent, not english)) if k)
    return {
        "service_code": category.code,
        "service_name": _name(category, english),
        "description": description,
        "metadata": bool(category.attributes),
        "type": "realtime",
        "keywords": ", ".join(keywords),
        "group": _name(category.parent, english),
    }


def present_definition(category: IncidentCategory) -> dict[str, Any]:
    attributes = []
    for order, attribute in enumerate(category.attributes or [], start=1):
        item: dict[str, Any] = {
            "variable": True,
            "code": attribute["code"],
            "datatype": attribute.get("datatype", "string"),
            "required": bool(attribute.get("required", False)),
            "datatype_description": attribute.get("datatype_description"),
            "order": attribute.get("order", order),
            "description": attribute.get("description", ""),
        }
        if item["datatype"] in LIST_DATATYPES:
            item["values"] = [{"key": v["key"], "name": v.get("name", v["key"])} for v in attribute.get("values", [])]
        attributes.append(item)
    return {"service_code": category.code, "attributes": attributes}


# ----------------------------------------------------------------------------------------------------
# Finding requests
# ----------------------------------------------------------------------------------------------------


def parse_datetime(value: str) -> datetime:
    """ISO 8601 with or without an offset (without: Shanghai time); a `+` decoded to a space is put back."""
    text = value.strip()
    text = re.sub(r" (\d{2}(:?\d{2})?)$", r"+\1", text)
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=LOCAL_TZ)
    return to_utc(parsed)  # ValueError beyond the years the API accepts (api.fields)


@dataclass
class RequestQuery:
    ids: list[uuid.UUID] | None = None
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] = field(default_factory=list)


def _comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def parse_query(args: Mapping[str, str], english: bool = False) -> RequestQuery:
    """GET requests' filters; every bad one is named (400)."""
    errors: dict[str, list[str]] = {}
    query = RequestQuery()
    if args.get("service_request_id"):
        ids = []
        for raw in _comma_list(args["service_request_id"]):
            try:
                ids.append(uuid.UUID(raw))
            except ValueError:
                continue  # an id we never issued matches nothing
        query.ids = ids
    query.service_codes = _comma_list(args.get("service_code"))
    statuses = [s.lower() for s in _comma_list(args.get("status"))]
    if any(s not in ("open", "closed") for s in statuses):
        errors["status"] = [
            _t("只能是 open 或 closed（可逗号分隔）", "must be open or closed (comma-separated)", english)
        ]
    query.statuses = statuses
    for name in ("start_date", "end_date"):
        if args.get(name):
            try:
                setattr(query, "start" if name == "start_date" else "end", parse_datetime(args[name]))
            except TimeOutOfRange as exc:
                errors[name] = [str(exc)]
            except ValueError:
                errors[name] = [
                    _t(
                        "不是有效的 ISO 8601 日期时间（例如 2026-12-01T08:00:00+08:00）",
                        "is not an ISO 8601 datetime (e.g. 2026-12-01T08:00:00+08:00)",
                        english,
                    )
                ]
    if query.start and query.end and "start_date" not in errors and "end_date" not in errors:
        if query.end < query.start:
            errors["end_date"] = [_t("不能早于 start_date", "must not be before start_date", english)]
        elif query.end - query.start > WINDOW:
            errors["end_date"] = [
                _t("与 start_date 的跨度不能超过 90 天", "may not be more than 90 days after start_date", english)
            ]
    if errors:
        raise _invalid(errors)
    return query


def _is_closed() -> Any:
    return or_(Incident.status.not_in(OPEN_STATUSES), Incident.merged_into_id.is_not(None))


def search_requests(query: RequestQuery, *, now: datetime | None = None) -> list[Incident]:
    """Newest first, at most 1000. Ids given override every other filter (as the spec says)."""
    stmt = select(Incident).order_by(Incident.created_at.desc(), Incident.id.desc()).limit(MAX_REQUESTS)
    if query.ids is not None:
        if not query.ids:
            return []
        return list(db.session.scalars(stmt.where(Incident.id.in_(query.ids))).unique())
    now = now or utcnow()
    start, end = query.start, query.end
    if start is None and end is None:
        start, end = now - WINDOW, now
    elif start is None:
        assert end is not None
        start = shift(end, -WINDOW)
    elif end is None:
        end = shift(start, WINDOW)
    stmt = stmt.where(Incident.created_at >= start, Incident.created_at <= end)
    if query.service_codes:
        stmt = stmt.join(IncidentCategory, Incident.category_id == IncidentCategory.id).where(
            IncidentCategory.code.in_(query.service_codes)
        )
    wanted = set(query.statuses)
    if wanted == {"open"}:
        stmt = stmt.where(not_(_is_closed()))
    elif wanted == {"closed"}:
        stmt = stmt.where(_is_closed())
    return list(db.session.scalars(stmt).unique())


def get_request(service_request_id: str) -> Incident:
    try:
        incident_id = uuid.UUID(service_request_id)
    except ValueError:
        incident_id = None
    incident = db.session.get(Incident, incident_id) if incident_id else None
    if incident is None:
        raise ApiError("open311_unknown_request", service_request_id=service_request_id)
    return incident


def request_for_token(token: str) -> Incident:
    """Requests are created synchronously, so the only token a client can hold is the request's own id."""
    try:
        return get_request(token)
    except ApiError:
        raise ApiError("open311_unknown_token", token=token) from None


# ----------------------------------------------------------------------------------------------------
# Presenting a request
# ----------------------------------------------------------------------------------------------------


def is_open(incident: Incident) -> bool:
    return incident.status.is_open and incident.merged_into_id is None


def status_notes(incident: Incident, english: bool = False) -> str | None:
    if incident.merged_into_id is not None:
        return _t(
            f"已与服务请求 {incident.merged_into_id} 合并处理",
            f"Merged into service request {incident.merged_into_id}",
            english,
        )
    # A staff member's note is published as written, but for the numbers in it (a resident's, quoted).
    return mask_personal_numbers(incident.status_note) if incident.status_note else incident.status_note


def present_request(incident: Incident, english: bool = False) -> dict[str, Any]:
    """One service request in the spec's field order; nothing about who reported it."""
    category = incident.category
    unit = incident.assigned_unit
    urls = incident.external_media_urls or []
    return {
        "service_request_id": str(incident.id),
        "status": "open" if is_open(incident) else "closed",
        "status_notes": status_notes(incident, english),
        "service_name": _name(category, english),
        "service_code": category.code,
        "description": mask_personal_numbers(incident.description or ""),
        "agency_responsible": unit.name if unit is not None else None,
        "service_notice": service_notice(category, english),
        "requested_datetime": incident.created_at,
        "updated_datetime": incident.updated_at,
        "expected_datetime": incident.due_at,
        "address": mask_personal_numbers(incident.address) if incident.address else incident.address,
        "address_id": None,
        "zipcode": None,
        "lat": incident.lat,
        "long": incident.lng,
        # Only a partner's own public URL: residents' photos are private to the case (signed, short-lived
        # URLs for the reporter and staff), so they are never published here.
        "media_url": urls[0] if urls else None,
    }


# ----------------------------------------------------------------------------------------------------
# Filing a request
# ----------------------------------------------------------------------------------------------------


@dataclass
class Submission:
    """What a client posted: one value per argument, and every value of the repeatable ones."""

    get: Callable[[str], Any]
    getlist: Callable[[str], Sequence[Any]]
    keys: Sequence[str]


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _attribute_values(submission: Submission) -> dict[str, Any]:
    """`attribute[code]=v`, `attribute[code][]=v` (repeatable: a multivaluelist), or JSON `"attribute": {code: v}`.

    A single value stays a string, several (or the `[]` form) become a list; the incidents domain checks
    them against the category's definition (required, datatype, allowed keys).
    """
    values: dict[str, Any] = {}
    nested = submission.get("attribute")
    if isinstance(nested, Mapping):
        for code, value in nested.items():
            values[str(code)] = [str(v) for v in value] if isinstance(value, list) else str(value)
    for name in submission.keys:
        match = _ATTRIBUTE.match(name)
        if not match:
            continue
        items = [str(v) for value in submission.getlist(name) for v in (value if isinstance(value, list) else [value])]
        items = [v.strip() for v in items if v.strip()]
        if match.group(2) or len(items) > 1:
            values[match.group(1)] = items
        elif items:
            values[match.group(1)] = items[0]
    return values


def _media_url(value: Any, english: bool, errors: dict[str, list[str]]) -> list[str]:
    if value in (None, ""):
        return []
    url = str(value).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > MAX_MEDIA_URL:
        errors["media_url"] = [_t("必须是 http(s) 公开链接", "must be a public http(s) URL", english)]
        return []
    return [url]


def _open311_errors(exc: ApiError) -> ApiError:
    """The incidents domain's field names, renamed to the arguments an Open311 client sent."""
    if not exc.errors:
        return exc
    renamed: dict[str, list[str]] = {}
    for name, messages in exc.errors.items():
        target = FIELD_NAMES.get(name)
        if target is None and name.startswith("attributes."):
            target = f"attribute[{name.split('.', 1)[1]}]"
        renamed.setdefault(target or name, []).extend(messages)
    error = ApiError(exc.code, status=exc.status, errors=renamed, headers=exc.headers, **exc.params)
    return error


def create_request(key: Open311Key, submission: Submission, english: bool = False) -> tuple[Incident, str]:
    """File a service request for the partner `key`: the incident and the service notice to answer with."""
    errors: dict[str, list[str]] = {}
    raw_code = submission.get("service_code")
    service_code = raw_code.strip() if isinstance(raw_code, str) else ""
    if not service_code:
        raise _invalid({"service_code": [_t("必填", "is required", english)]})
    category = db.session.scalar(select(IncidentCategory).where(IncidentCategory.code == service_code))
    if category is None or not category.active or not category.is_leaf:
        unknown = _t(f"未知的服务代码：{service_code}", f"unknown service_code {service_code}", english)
        raise _invalid({"service_code": [unknown]})

    lat, lng = submission.get("lat"), submission.get("long")
    address = submission.get("address_string")
    address = str(address).strip() if address not in (None, "") else None
    if lat not in (None, "") or lng not in (None, ""):
        lat_value, lng_value = _float(lat), _float(lng)
        if lat_value is None or not -90 <= lat_value <= 90:
            errors["lat"] = [_t("须与 long 一起提供有效的纬度", "must be a valid latitude, sent with long", english)]
        if lng_value is None or not -180 <= lng_value <= 180:
            errors["long"] = [_t("须与 lat 一起提供有效的经度", "must be a valid longitude, sent with lat", english)]
    else:
        lat_value = lng_value = None
        if address is None:
            missing = _t(
                "须提供 lat/long 或 address_string 之一",
                "one of lat/long or address_string is required",
                english,
            )
            if submission.get("address_id"):
                missing += _t(
                    "（本系统没有地址库，无法识别 address_id）",
                    " (there is no master address repository here to resolve address_id)",
                    english,
                )
            errors["lat"] = [missing]
    description = submission.get("description")
    description = str(description) if description is not None else ""
    media_urls = _media_url(submission.get("media_url"), english, errors)
    attributes = _attribute_values(submission)
    if errors:
        raise _invalid(errors)
    try:
        created = incident_services.create_incident(
            None,
            category_code=service_code,
            description=description,
            lat=lat_value,
            lng=lng_value,
            address=address,
            source="open311",
            partner_id=key.id,
            external_media_urls=media_urls,
            attributes=attributes,
        )
    except ApiError as exc:
        raise _open311_errors(exc) from None
    return created.incident, service_notice(category, english)
