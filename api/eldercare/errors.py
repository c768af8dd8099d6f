"""Error codes of the eldercare domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
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
}
