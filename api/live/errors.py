"""Error codes of the live domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
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
}
