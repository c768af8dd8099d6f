"""Open311 GeoReport v2 under `/open311/v2/` — the face city platforms and 311 tools talk to.

A plain Flask blueprint, not part of the OpenAPI document (XML does not fit it). Every URL under the
prefix answers in the spec's shapes: the resource as `.json` or `.xml`, and every error — ours, the
framework's, an unknown path or method, an unexpected exception — as the Open311 error document
(`[{"code", "description"}]` / `<errors>`) with HTTP 400, 403, 404 (405, 413, 429 where those are the
truth), never the `/api/v1` error shape and never HTML. Routes stay thin; the rules are in `services`.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, request
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from api.db import db
from api.errors import FIELD_MESSAGES_ZH, STATUS_CODES, ApiError, render_message, wants_english
from api.extensions import accepts, get_settings
from api.open311 import render, services
from api.ratelimit import enforce

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "application/json")
# What the spec names; 422 (bad fields), 409 and 415 are all "bad request" to an Open311 client.
SPEC_STATUSES = frozenset({400, 403, 404, 405, 413, 429})

blp = Blueprint("open311", __name__, url_prefix=PREFIX)


# ----------------------------------------------------------------------------------------------------
# Errors in the Open311 shape
# ----------------------------------------------------------------------------------------------------


def _status(status: int) -> int:
    if status in SPEC_STATUSES or status >= 500:
        return status
    return 403 if status == 401 else 400


def _requested_format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in render.FORMATS:
        return fmt
    return "xml" if request.path.endswith(".xml") else "json"


def _field_message(message: str) -> str:
    return message if wants_english() else FIELD_MESSAGES_ZH.get(message, message)


def _error_response(exc: ApiError) -> Response:
    if exc.errors:
        descriptions = [f"{name}: {_field_message(m)}" for name, messages in exc.errors.items() for m in messages]
    else:
        descriptions = [render_message(exc.code, exc.params)]
    return render.render_errors(_requested_format(), _status(exc.status), descriptions, headers=exc.headers)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    headers = {k: v for k, v in exc.get_headers() if k.lower() in ("allow", "retry-after")}
    params = {"limit": f"{(request.max_content_length or 0) // 1024} KB", "expected": ", ".join(FORM_TYPES)}
    return render.render_errors(_requested_format(), _status(status), [render_message(code, params)], headers=headers)


@blp.errorhandler(Exception)
def open311_error(exc: Exception) -> Response:
    """Everything raised inside an Open311 view, in the Open311 shape."""
    if isinstance(exc, ApiError):
        return _error_response(exc)
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_UNEXPECTED"):
        raise exc
    return render.render_errors(_requested_format(), 500, [render_message("internal_error")])


@blp.before_app_request
def open311_guard() -> Response | None:
    """Requests under the prefix that no view will see: routing misses and bodies we cannot read.

    Flask has not chosen a blueprint for an unmatched URL, so the blueprint's error handler would not
    run and the app's `/api/v1` shape would answer; and the app's body-type check answers in that shape
    too. Both are decided here first for our URLs.
    """
    if not (request.path == PREFIX or request.path.startswith(PREFIX + "/")):
        return None
    routing = request.routing_exception
    if isinstance(routing, RequestRedirect):
        return None
    if isinstance(routing, HTTPException):
        return _http_error(routing)
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get("Transfer-Encoding", "")
    if request.method == "POST" and has_body and request.mimetype not in FORM_TYPES:
        message = (
            f"Send the arguments as {', '.join(FORM_TYPES)}"
            if wants_english()
            else f"请以 {', '.join(FORM_TYPES)} 提交参数"
        )
        return render.render_errors(_requested_format(), 400, [message])
    return None


def _format(fmt: str) -> str:
    if fmt not in render.FORMATS:
        raise ApiError("open311_unknown_format", format=fmt)
    return fmt


# ----------------------------------------------------------------------------------------------------
# Discovery and services
# ----------------------------------------------------------------------------------------------------


@blp.get("/discovery.<fmt>")
def open311_discovery(fmt: str) -> Response:
    fmt = _format(fmt)
    settings = get_settings()
    english = wants_english()
    data = {
        "changeset": services.CHANGESET,
        "contact": settings.open311_contact,
        "key_service": (
            "API keys for creating requests are issued by the subdistrict office to partner systems."
            if english
            else "创建服务请求所需的 api_key 由街道向合作系统发放。"
        ),
        "endpoints": [
            {
                "specification": services.SPEC_URL,
                "url": request.host_url.rstrip("/") + PREFIX,
                "changeset": services.CHANGESET,
                "type": "production" if settings.is_production else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render.render(fmt, "discovery", data)


@blp.get("/services.<fmt>")
def open311_list_services(fmt: str) -> Response:
    fmt = _format(fmt)
    english = wants_english()
    return render.render(fmt, "services", [services.present_service(c, english) for c in services.list_services()])


@blp.get("/services/<service_code>.<fmt>")
def open311_service_definition(service_code: str, fmt: str) -> Response:
    fmt = _format(fmt)
    definition = services.present_definition(services.get_service(service_code))
    return render.render(fmt, "service_definition", definition)


# ----------------------------------------------------------------------------------------------------
# Service requests
# ----------------------------------------------------------------------------------------------------


@blp.get("/requests.<fmt>")
def open311_list_requests(fmt: str) -> Response:
    fmt = _format(fmt)
    english = wants_english()
    query = services.parse_query(request.args, english)
    found = services.search_requests(query)
    return render.render(fmt, "service_requests", [services.present_request(i, english) for i in found])


def _submission() -> services.Submission:
    """The POSTed arguments: a form (as the spec says) or a JSON object, read the same way."""
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ApiError("malformed_json", status=400)
        data: MultiDict[str, Any] = MultiDict()
        for key, value in body.items():
            for item in value if isinstance(value, list) else [value]:
                data.add(key, item)
        return services.Submission(get=body.get, getlist=data.getlist, keys=list(body))
    form = request.form
    return services.Submission(get=form.get, getlist=form.getlist, keys=list(form.keys()))


@blp.post("/requests.<fmt>")
@accepts(*FORM_TYPES)
def open311_create_request(fmt: str) -> Response:
    fmt = _format(fmt)
    english = wants_english()
    submission = _submission()
    key = services.authenticate(submission.get("api_key"))
    settings = get_settings()
    enforce("open311_post", str(key.id), limit=settings.open311_post_rate_limit_per_minute)
    incident, notice = services.create_request(key, submission, english)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("Open311 request refused by a constraint", exc_info=True)
        raise ApiError("conflict") from None
    except OperationalError:
        db.session.rollback()
        log.exception("database unavailable at Open311 commit")
        raise ApiError("service_unavailable") from None
    body = [{"service_request_id": str(incident.id), "service_notice": notice, "account_id": None}]
    return render.render(fmt, "service_requests", body)


@blp.get("/requests/<service_request_id>.<fmt>")
def open311_get_request(service_request_id: str, fmt: str) -> Response:
    fmt = _format(fmt)
    incident = services.get_request(service_request_id)
    return render.render(fmt, "service_requests", [services.present_request(incident, wants_english())])


@blp.get("/tokens/<token>.<fmt>")
def open311_get_token(token: str, fmt: str) -> Response:
    fmt = _format(fmt)
    incident = services.request_for_token(token)
    return render.render(fmt, "service_requests", [{"service_request_id": str(incident.id), "token": token}])


plain_blueprints = [blp]
