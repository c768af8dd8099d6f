"""Error codes of the officialaccount domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "oa_link_invalid": (404, "绑定码无效或已过期", "This link code is invalid or has expired"),
    "oa_signature_invalid": (403, "公众号消息签名无效", "The Official Account message signature is invalid"),
    "oa_not_configured": (503, "公众号消息接口尚未配置", "The Official Account message endpoint is not configured"),
    "oa_sandbox_only": (404, "仅在沙箱模式下可用", "Only available in sandbox mode"),
}
