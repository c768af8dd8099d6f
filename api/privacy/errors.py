"""Error codes of the privacy domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "export_running": (409, "已有一份数据导出正在生成，请稍后查看", "An export of your data is already being made"),
    "export_not_ready": (409, "数据导出尚未完成（{status}）", "The export is not ready ({status})"),
    "deletion_requested": (
        409,
        "您已申请注销账号，将于 {due} 执行；期间重新登录即可撤销",
        "You already asked to delete your account; it happens at {due} unless you log in again before",
    ),
    "deletion_blocked": (
        409,
        "暂不能注销账号：{reasons}",
        "Your account cannot be deleted yet: {reasons}",
    ),
    "deletion_not_requested": (409, "没有待执行的注销申请", "There is no pending account deletion"),
}
