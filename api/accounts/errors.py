"""Error codes of the accounts domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "policy_not_accepted": (
        403,
        "请先阅读并同意最新的隐私政策（{version}）",
        "Read and accept the privacy policy in force ({version}) first",
    ),
    "policy_version_exists": (
        409,
        "隐私政策版本 {version} 已发布",
        "Privacy policy version {version} was already published",
    ),
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
    "account_locked": (
        429,
        "登录失败次数过多，账号已临时锁定，请 {retry_after} 秒后再试",
        "Too many failed logins; the account is locked for {retry_after} s",
    ),
    "household_request_exists": (
        409,
        "您已提交过该房屋的绑定申请，请等待审核",
        "You already have a pending request for this room",
    ),
    "already_household_member": (409, "您已绑定该房屋", "You are already bound to this room"),
    "household_request_decided": (409, "该申请已处理（{state}）", "This request was already decided ({state})"),
}
