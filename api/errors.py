"""The one error shape of the API: `{"code", "message", "errors"}` for every 4xx and 5xx.

`code` is stable and machine-readable; `message` is Chinese by default and English when the client
sends `Accept-Language: en`; `errors` maps a field to its problems (empty when none). Services raise
`ApiError` (or a subclass); everything else — Werkzeug's HTTP errors, webargs validation, unexpected
exceptions — is turned into the same shape here. No HTML page and no stack trace ever leaves.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, current_app, has_request_context, jsonify, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# code -> (HTTP status, Chinese message, English message). Messages may use {placeholders}. These are the
# codes of the core; each domain declares its own in its manifest, and `install` adds them here.
MESSAGES: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求无效", "The request is invalid"),
    "malformed_json": (400, "请求体不是有效的 JSON", "The request body is not valid JSON"),
    "unauthorized": (401, "请先登录", "Authentication is required"),
    "forbidden": (403, "没有权限执行此操作", "You are not allowed to do this"),
    "not_found": (404, "资源不存在", "Not found"),
    "method_not_allowed": (405, "不支持该请求方法", "Method not allowed"),
    "conflict": (409, "操作与当前状态冲突", "The request conflicts with the current state"),
    "idempotency_key_in_use": (
        409,
        "相同的幂等键正在处理中，请稍后重试",
        "A request with this Idempotency-Key is still being processed",
    ),
    "payload_too_large": (413, "请求体过大（上限 {limit}）", "The request body is too large (limit {limit})"),
    "unsupported_media_type": (
        415,
        "不支持的内容类型，请使用 {expected}",
        "Unsupported content type; send {expected}",
    ),
    "validation_failed": (422, "请求参数有误", "Some fields are invalid"),
    "invalid_cursor": (422, "分页游标无效", "The pagination cursor is invalid"),
    "idempotency_key_mismatch": (
        422,
        "该幂等键已用于内容不同的请求",
        "This Idempotency-Key was already used with a different request",
    ),
    "too_many_requests": (
        429,
        "请求过于频繁，请 {retry_after} 秒后再试",
        "Too many requests; retry in {retry_after} s",
    ),
    "wechat_code_invalid": (400, "微信登录凭证无效，请重新登录", "The WeChat login code is invalid"),
    "wechat_code_used": (400, "微信登录凭证已使用，请重新获取", "The WeChat login code was already used"),
    "wechat_rate_limited": (429, "微信接口调用过于频繁，请稍后再试", "WeChat rate limit reached; try again shortly"),
    "wechat_busy": (503, "微信服务繁忙，请稍后再试", "WeChat is busy; try again shortly"),
    "wechat_unavailable": (502, "暂时无法连接微信服务", "WeChat could not be reached"),
    "wechat_error": (502, "微信服务返回错误（{errcode}）", "WeChat returned an error ({errcode})"),
    "internal_error": (500, "服务器内部错误，请稍后再试", "Internal server error"),
    "service_unavailable": (503, "服务暂不可用", "Service unavailable"),
}


def install(codes: dict[str, tuple[int, str, str]]) -> None:
    """Add the installed domains' error codes to the catalogue (done by `create_app`; installing the same
    code with the same entry again is harmless, a different entry for a known code is a mistake)."""
    for code, entry in codes.items():
        known = MESSAGES.get(code)
        if known is not None and known != entry:
            raise ValueError(f"error code {code!r} is already declared differently")
        MESSAGES[code] = entry


# Werkzeug's status codes -> our codes, for errors raised by the framework itself.
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    503: "service_unavailable",
}

# Field messages from marshmallow/webargs, for Chinese clients.
FIELD_MESSAGES_ZH = {
    "Missing data for required field.": "缺少必填字段",
    "Unknown field.": "未知字段",
    "Field may not be null.": "不能为空值",
    "Not a valid string.": "不是有效的字符串",
    "Not a valid integer.": "不是有效的整数",
    "Not a valid number.": "不是有效的数字",
    "Not a valid boolean.": "不是有效的布尔值",
    "Not a valid datetime.": "不是有效的日期时间",
    "Not a valid date.": "不是有效的日期",
    "Not a valid UUID.": "不是有效的编号",
    "Not a valid URL.": "不是有效的网址",
    "Not a valid list.": "不是有效的列表",
    "Not a valid mapping type.": "不是有效的对象",
    "Invalid input type.": "输入类型无效",
    "Invalid value.": "取值无效",
    "Shorter than minimum length 1.": "不能为空",
}


class ApiError(Exception):
    """An error a client can act on. Raise it from services; the app renders it."""

    def __init__(
        self,
        code: str,
        *,
        status: int | None = None,
        errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
        keep_changes: bool = False,
        **params: Any,
    ) -> None:
        """`keep_changes`: commit what the request did before failing (a revoked token family, a
        counted failed login) instead of rolling it back with the rest."""
        if code not in MESSAGES:
            raise KeyError(f"unknown error code {code!r}: declare it in its domain's manifest (or api.errors)")
        super().__init__(code)
        self.code = code
        self.status = status or MESSAGES[code][0]
        self.errors = errors or {}
        self.headers = headers or {}
        self.keep_changes = keep_changes
        self.params = params

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, status={self.status})"


class NotFound(ApiError):
    def __init__(self) -> None:
        super().__init__("not_found")


class Forbidden(ApiError):
    def __init__(self, code: str = "forbidden") -> None:
        super().__init__(code)


class ErrorSchema(Schema):
    code = fields.String(required=True, metadata={"description": "stable machine-readable code"})
    message = fields.String(required=True, metadata={"description": "human message (zh by default)"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        required=True,
        metadata={"description": "problems per field; empty when none"},
    )


def wants_english() -> bool:
    if not has_request_context():
        return False
    best = request.accept_languages.best_match(["zh", "en"], default="zh")
    return best == "en"


def render_message(code: str, params: dict[str, Any] | None = None) -> str:
    _status, zh, en = MESSAGES[code]
    template = en if wants_english() else zh
    try:
        return template.format(**(params or {}))
    except (KeyError, IndexError):
        return template


def _localise_field_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    if wants_english():
        return errors
    return {k: [FIELD_MESSAGES_ZH.get(m, m) for m in v] for k, v in errors.items()}


def error_response(
    code: str,
    *,
    status: int | None = None,
    errors: dict[str, list[str]] | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
) -> Response:
    body = {
        "code": code,
        "message": render_message(code, params),
        "errors": _localise_field_errors(errors or {}),
    }
    response = jsonify(body)
    response.status_code = status or MESSAGES[code][0]
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nest messages by location and field; clients want `field -> [messages]`."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if prefix == "" and key in {"json", "query", "form", "files", "headers", "view_args", "path"}:
                name = ""
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                flat.update(flatten_messages(value, name))
            else:
                items = value if isinstance(value, list) else [value]
                target = flat.setdefault(name or "_body", [])
                for item in items:
                    if isinstance(item, dict):
                        flat.update(flatten_messages(item, name))
                    else:
                        target.append(str(item))
                if not target:
                    flat.pop(name or "_body", None)
    elif isinstance(messages, list):
        flat.setdefault(prefix or "_body", []).extend(str(m) for m in messages)
    return flat


def _limit_label(limit: int | None) -> str:
    if not limit:
        return "-"
    if limit >= 1024 * 1024:
        return f"{limit / (1024 * 1024):g} MB"
    return f"{limit / 1024:g} KB"


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    code = STATUS_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    data = getattr(exc, "data", None) or {}
    errors = flatten_messages(data.get("messages", {})) if isinstance(data, dict) else {}
    params: dict[str, Any] = {}
    headers = {}
    if status == 413:
        limit = request.max_content_length if has_request_context() else None
        params["limit"] = _limit_label(limit)
    if status == 415:
        params["expected"] = "application/json"
    if status == 405 and exc.get_headers():
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
    if status == 429:
        params["retry_after"] = 60
    return error_response(code, status=status, errors=errors, headers=headers, params=params)


def handle_api_error(exc: ApiError) -> Response:
    if exc.keep_changes:
        from api.db import db

        db.session.commit()
    return error_response(exc.code, status=exc.status, errors=exc.errors, headers=exc.headers, params=exc.params)


RETRY_AFTER_SECONDS = 5


def is_outage(exc: BaseException) -> bool:
    """A part underneath is unreachable (the database, Redis, the broker), not a bug: the client should
    retry, so it gets a 503 — an IoT platform re-sends on a 503 and may drop an alarm on a 500."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeout
    from sqlalchemy import exc as sa

    if isinstance(exc, sa.OperationalError | sa.InterfaceError | sa.TimeoutError):
        return True
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    from api.cache import StoreUnavailable

    return isinstance(exc, RedisConnectionError | RedisTimeout | BrokerError | StoreUnavailable)


def unavailable_response() -> Response:
    return error_response("service_unavailable", headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if is_outage(exc):
        from api.db import db

        log.warning("service unavailable on %s %s: %s", request.method, request.path, exc)
        db.session.rollback()
        return unavailable_response()
    log.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_UNEXPECTED"):
        raise exc
    return error_response("internal_error")


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
