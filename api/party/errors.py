"""Error codes of the party domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "not_a_party_member": (
        403,
        "您不是本街道登记在册的党员；党员身份由党组织核实后关联，不能自行申报",
        "You are not a registered party member here; membership is linked by the party organisation, not declared",
    ),
    "party_transition_not_allowed": (
        409,
        "当前状态（{state}）不能执行该操作，可执行：{allowed}",
        "Not allowed while it is {state}; allowed: {allowed}",
    ),
    "party_level_above_only": (
        403,
        "须由上级党组织办理：{what}",
        "Only the organisation above may do this: {what}",
    ),
    "party_member_linked": (
        409,
        "该账号已关联在册党员记录",
        "This account is already linked to a current member record",
    ),
    "party_member_not_current": (
        409,
        "该党员当前状态（{state}）不能办理此事项",
        "Not possible while the member is {state}",
    ),
    "party_officer_post_taken": (409, "该组织已有书记，请先免去现任书记", "This organisation already has a secretary"),
    "party_minutes_locked": (
        409,
        "会议记录已审核通过并锁定，不能修改",
        "The minutes were approved and are locked",
    ),
    "party_meeting_cancelled": (409, "会议已取消", "The meeting was cancelled"),
    "party_sign_in_window": (
        422,
        "签到时间为 {opens} 至 {closes}",
        "Sign-in is open from {opens} to {closes}",
    ),
    "party_not_on_roster": (422, "您不在本次会议的参会名单中", "You are not on this meeting's roster"),
    "party_leave_too_late": (409, "会议已开始，不能再请假", "The meeting has started: too late to ask for leave"),
    "party_leave_not_requested": (409, "该党员没有待审批的请假", "This member has no leave request waiting"),
    "party_quiz_closed": (
        409,
        "测试不在开放时间内（{opens} 至 {closes}）",
        "The quiz is open from {opens} to {closes}",
    ),
    "party_quiz_time_over": (
        409,
        "答题时间已到（截止 {deadline}），本次作答未计分",
        "Time was up at {deadline}; the answers were not scored",
    ),
    "party_quiz_submitted": (409, "您已提交过本次测试", "You already handed in this quiz"),
    "party_points_cap_reached": (
        422,
        "「{action}」积分本{cycle}已达上限 {cap} 分，不再累计",
        "Points for {action} reached this {cycle}'s cap of {cap}",
    ),
    "party_dues_base_invalid": (
        422,
        "党费计算基数无效：{problem}",
        "The dues base is not valid: {problem}",
    ),
    "party_dues_standard_missing": (
        409,
        "尚未核定党费标准，请先申报收入并由党支部确认",
        "No dues standard yet: declare the income and have the branch confirm it",
    ),
    "party_dues_month_paid": (409, "{months} 的党费已缴纳，不能重复缴纳", "Dues for {months} are already paid"),
    "party_dues_payment_pending": (
        409,
        "{months} 的党费正在支付中，请完成或等待该笔支付关闭",
        "Dues for {months} are being paid by another payment; finish it or wait for it to close",
    ),
    "party_dues_months_invalid": (422, "缴费月份无效：{problem}", "The months to pay are not valid: {problem}"),
    "party_transfer_open": (
        409,
        "已有一项正在办理的组织关系转接，请办结或撤回后再申请",
        "A transfer is already under way; finish or withdraw it first",
    ),
    "party_transfer_letter_expired": (
        409,
        "介绍信已于 {until} 过期",
        "The letter of introduction expired at {until}",
    ),
    "party_registration_open": (
        409,
        "您已有一项报到申请在办理或已报到",
        "You already have a registration under way or confirmed",
    ),
}
