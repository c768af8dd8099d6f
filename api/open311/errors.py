"""Error codes of the open311 domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
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
}
