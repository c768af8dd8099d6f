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

# code -> (HTTP status, Chinese message, English message). Messages may use {placeholders}.
MESSAGES: dict[str, tuple[int, str, str]] = {
    "bad_request": (400, "请求无效", "The request is invalid"),
    "malformed_json": (400, "请求体不是有效的 JSON", "The request body is not valid JSON"),
    "unauthorized": (401, "请先登录", "Authentication is required"),
    "token_invalid": (401, "登录凭证无效", "The access token is invalid"),
    "session_ended": (401, "已退出登录，请重新登录", "This session has ended: log in again"),
    "token_expired": (401, "登录已过期，请重新登录", "The access token has expired"),
    "refresh_token_invalid": (401, "刷新凭证无效或已过期，请重新登录", "The refresh token is invalid or expired"),
    "refresh_token_reused": (
        401,
        "刷新凭证已被使用，为保护账号安全已退出所有相关登录，请重新登录",
        "The refresh token was already used; its whole session family has been revoked",
    ),
    "invalid_credentials": (401, "用户名或密码错误", "Wrong username or password"),
    "account_disabled": (403, "账号已停用", "This account is disabled"),
    "forbidden": (403, "没有权限执行此操作", "You are not allowed to do this"),
    "out_of_scope": (403, "该对象不在您的管辖范围内", "This object is outside your area"),
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
    "account_locked": (
        429,
        "登录失败次数过多，账号已临时锁定，请 {retry_after} 秒后再试",
        "Too many failed logins; the account is locked for {retry_after} s",
    ),
    "wechat_code_invalid": (400, "微信登录凭证无效，请重新登录", "The WeChat login code is invalid"),
    "wechat_code_used": (400, "微信登录凭证已使用，请重新获取", "The WeChat login code was already used"),
    "wechat_rate_limited": (429, "微信接口调用过于频繁，请稍后再试", "WeChat rate limit reached; try again shortly"),
    "wechat_busy": (503, "微信服务繁忙，请稍后再试", "WeChat is busy; try again shortly"),
    "wechat_unavailable": (502, "暂时无法连接微信服务", "WeChat could not be reached"),
    "wechat_error": (502, "微信服务返回错误（{errcode}）", "WeChat returned an error ({errcode})"),
    "household_request_exists": (
        409,
        "您已提交过该房屋的绑定申请，请等待审核",
        "You already have a pending request for this room",
    ),
    "already_household_member": (409, "您已绑定该房屋", "You are already bound to this room"),
    "household_request_decided": (409, "该申请已处理（{state}）", "This request was already decided ({state})"),
    "media_type_not_allowed": (
        415,
        "仅支持 JPEG、PNG、WebP 格式的照片",
        "Only photos in JPEG, PNG or WebP format are accepted",
    ),
    "media_corrupt": (415, "照片文件已损坏或不完整，请重新选择", "The photo file is damaged or incomplete"),
    "media_too_many_pixels": (
        415,
        "照片分辨率过高（上限 {megapixels} 百万像素）",
        "The photo has too many pixels (limit {megapixels} megapixels)",
    ),
    "media_upload_missing": (409, "尚未收到上传的文件，请先上传", "Nothing has been uploaded with this ticket yet"),
    "media_not_available": (422, "照片不存在或不属于您", "No such photo of yours"),
    "media_not_ready": (409, "照片尚未上传完成", "This photo has not finished uploading"),
    "media_already_attached": (409, "照片已被其他记录使用", "This photo is already attached to another record"),
    "media_too_many": (422, "最多只能添加 {limit} 张照片", "At most {limit} photos can be attached"),
    "media_url_invalid": (403, "文件链接无效", "This file link is invalid"),
    "media_url_expired": (403, "文件链接已过期，请刷新后重试", "This file link has expired; reload to get a new one"),
    "upload_policy_invalid": (403, "上传凭证无效", "The upload ticket is invalid"),
    "upload_policy_expired": (403, "上传凭证已过期，请重新获取", "The upload ticket has expired; ask for a new one"),
    "event_cancelled": (409, "该活动已取消", "This event was cancelled"),
    "event_past": (409, "该活动已开始或已结束", "This event has already started or ended"),
    "booking_not_open": (409, "报名尚未开始，开始时间：{opens}", "Booking opens at {opens}"),
    "booking_closed": (409, "报名已截止", "Booking is closed"),
    "event_full": (409, "名额已满，候补名单也已满", "The event and its waitlist are full"),
    "party_too_large": (422, "每个报名最多 {limit} 人（含同行人）", "At most {limit} people per booking"),
    "not_eligible": (
        403,
        "您不符合该活动的报名条件",
        "You do not meet this event's eligibility rules",
    ),
    "booking_suspended": (
        403,
        "您近期有 {limit} 次报名后未到场，{until} 前暂不能报名",
        "You missed {limit} booked events recently; you can book again after {until}",
    ),
    "booking_checked_in": (409, "已签到的报名不能取消", "A checked-in booking cannot be cancelled"),
    "cancel_too_late": (409, "已过取消截止时间（{cutoff}）", "The cancellation deadline ({cutoff}) has passed"),
    "capacity_below_bookings": (
        409,
        "名额不能少于已报名人数（{taken}）",
        "Capacity cannot be below the seats already booked ({taken})",
    ),
    "ticket_invalid": (422, "无效的电子票", "This ticket is not valid"),
    "ticket_other_event": (409, "这是其他活动（{event}）的电子票", "This ticket is for another event ({event})"),
    "ticket_not_confirmed": (409, "该报名未确认（{state}），不能签到", "This booking is not confirmed ({state})"),
    "ticket_used": (409, "该电子票已于 {at} 签到", "This ticket was already used at {at}"),
    "live_not_available": (404, "该活动没有线上直播", "This event has no live stream"),
    "live_not_on_air": (409, "直播尚未开始或已经结束", "The stream is not on air right now"),
    "replay_not_available": (409, "回看尚未生成", "No replay is available yet"),
    "live_event_unavailable": (409, "活动已取消，不能直播", "The event is cancelled; it cannot go live"),
    "live_not_configured": (503, "直播服务尚未配置", "Live streaming is not configured"),
    "live_callback_forbidden": (403, "直播回调密钥缺失或错误", "The stream callback secret is missing or wrong"),
    "live_stream_unknown": (404, "未知的直播流", "Unknown stream"),
    "live_push_signature_invalid": (
        403,
        "推流地址签名无效，请使用工作人员获取的推流地址",
        "The push URL is not signed for this stream; use the one staff were given",
    ),
    "live_push_url_expired": (403, "推流地址已过期，请重新获取", "The push URL has expired; get a new one"),
    "iot_signature_missing": (
        401,
        "缺少物联网平台签名头（X-Linli-Platform、X-Linli-Timestamp、X-Linli-Signature）",
        "The IoT platform headers X-Linli-Platform, X-Linli-Timestamp and X-Linli-Signature are required",
    ),
    "iot_signature_invalid": (401, "物联网平台签名无效", "The IoT platform signature is invalid"),
    "iot_timestamp_stale": (
        401,
        "签名时间戳超出允许范围（±{window} 秒）",
        "The signature timestamp is more than {window} s away from the server's clock",
    ),
    "iot_batch_replayed": (409, "该批次已提交过（重放）", "This signed batch was already received (replay)"),
    "iot_not_configured": (503, "物联网接入尚未配置", "IoT ingestion is not configured"),
    "iot_batch_too_large": (
        413,
        "每批最多 {limit} 条事件，本批 {count} 条",
        "At most {limit} events per batch; this one has {count}",
    ),
    "iot_batch_invalid": (422, "请求体必须是事件数组", "The body must be a JSON array of events"),
    "alert_resolved": (409, "该报警已于 {at} 结案", "This alert was resolved at {at}"),
    "open311_api_key_invalid": (
        403,
        "api_key 缺失、无效或已停用，不能创建服务请求",
        "The api_key is missing, invalid or revoked; no service request was created",
    ),
    "open311_unknown_service": (404, "未知的服务代码：{service_code}", "Unknown service_code: {service_code}"),
    "open311_unknown_request": (404, "服务请求不存在：{service_request_id}", "No service request {service_request_id}"),
    "open311_unknown_token": (404, "未知的 token：{token}", "Unknown token: {token}"),
    "open311_unknown_format": (
        404,
        "不支持的格式“{format}”，请使用 .json 或 .xml",
        'Unsupported format "{format}"; use .json or .xml',
    ),
    "elder_not_pending": (409, "该老人登记已处理（{state}）", "This elder registration was already decided ({state})"),
    "elder_not_active": (409, "该老人档案未生效（{state}）", "This elder profile is not active ({state})"),
    "consent_required": (
        409,
        "老人（或其监护人）尚未同意对“{device_type}”类设备的监测，不能绑定该设备",
        "No monitoring consent covers {device_type} devices for this elder; the device cannot be bound",
    ),
    "consent_withdrawn": (409, "该同意书已于 {at} 撤回", "This consent was already withdrawn at {at}"),
    "invite_invalid": (404, "邀请码无效，请向老人或社区工作人员重新获取", "This invite code does not exist"),
    "invite_expired": (410, "邀请码已过期，请重新获取", "This invite code has expired; ask for a new one"),
    "invite_used": (409, "该邀请码已被使用，请重新获取", "This invite code was already used; ask for a new one"),
    "binding_exists": (409, "您已绑定或已申请绑定该老人（{state}）", "You are already bound to this elder ({state})"),
    "binding_self": (409, "不能绑定自己为家属", "You cannot bind yourself as your own family member"),
    "binding_not_requested": (409, "该绑定申请已处理（{state}）", "This binding request was already decided ({state})"),
    "binding_not_confirmed": (409, "该绑定未生效（{state}）", "This binding is not active ({state})"),
    "contacts_mismatch": (
        422,
        "联系人顺序必须恰好包含该老人的全部已确认家属",
        "The order must list every confirmed family member of this elder exactly once",
    ),
    "oa_link_invalid": (404, "绑定码无效或已过期", "This link code is invalid or has expired"),
    "oa_signature_invalid": (403, "公众号消息签名无效", "The Official Account message signature is invalid"),
    "oa_not_configured": (503, "公众号消息接口尚未配置", "The Official Account message endpoint is not configured"),
    "oa_sandbox_only": (404, "仅在沙箱模式下可用", "Only available in sandbox mode"),
    "device_serial_exists": (409, "设备序列号 {serial} 已存在", "A device with serial {serial} already exists"),
    "device_retired": (409, "该设备已退役", "This device is retired"),
    "device_room_mismatch": (
        422,
        "设备所在房屋必须是该老人的住址",
        "A device bound to an elder must be in that elder's home",
    ),
    "csv_invalid": (422, "CSV 文件无法读取：{reason}", "The CSV file cannot be read: {reason}"),
    "unknown_category": (422, "请选择有效的问题类型", "Choose a valid incident category"),
    "photo_required": (422, "该类问题需要上传照片", "A photo is required for this kind of problem"),
    "location_out_of_bounds": (
        422,
        "位置不在本街道范围内",
        "The location is outside the subdistrict",
    ),
    "transition_not_allowed": (
        409,
        "当前状态（{state}）不能执行该操作，可执行：{allowed}",
        "Not allowed while the case is {state}; allowed: {allowed}",
    ),
    "incident_not_resolved": (409, "问题尚未办结，暂不能评价", "The case is not resolved yet; feedback comes after"),
    "feedback_already_given": (409, "您已评价过本次处理结果", "You already gave feedback on this resolution"),
    "merge_not_allowed": (409, "不能合并：{reason}", "These cases cannot be merged: {reason}"),
    "internal_error": (500, "服务器内部错误，请稍后再试", "Internal server error"),
    "service_unavailable": (503, "服务暂不可用", "Service unavailable"),
}

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
            raise KeyError(f"unknown error code {code!r}: add it to api.errors.MESSAGES")
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
