"""Error codes of the alerts domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
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
}
