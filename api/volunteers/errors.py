"""Error codes of the volunteers domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "volunteer_profile_exists": (409, "您已提交过志愿者资料", "You already have a volunteer profile"),
    "volunteer_profile_missing": (404, "请先登记为志愿者", "Register as a volunteer first"),
    "volunteer_not_approved": (
        403,
        "您的志愿者资料尚未通过审核（{state}）",
        "Your volunteer profile is not approved ({state})",
    ),
    "volunteer_profile_decided": (409, "该志愿者资料已审核（{state}）", "This profile was already decided ({state})"),
    "volunteer_not_eligible": (
        403,
        "您不符合该任务的要求：{reasons}",
        "You cannot take this task: {reasons}",
    ),
    "task_not_open": (409, "该任务已不再接受报名（{state}）", "This task no longer takes sign-ups ({state})"),
    "task_started": (409, "该任务已开始或已结束", "This task has already started or ended"),
    "task_full": (409, "名额已满，候补名单也已满", "The task and its waitlist are full"),
    "task_overlaps": (
        409,
        "与您已确认的任务「{title}」（{starts}）时间冲突",
        "It overlaps a task you are confirmed for: {title} ({starts})",
    ),
    "alert_task_not_offered": (
        403,
        "该紧急任务只由系统邀请附近在岗志愿者",
        "Only the on-duty volunteers nearby are offered this urgent task",
    ),
    "leave_reason_required": (
        422,
        "已过取消截止时间（{cutoff}），请说明原因",
        "The cancellation deadline ({cutoff}) has passed: give a reason",
    ),
    "signup_not_active": (409, "该报名已结束（{state}）", "This sign-up is no longer active ({state})"),
    "signup_not_waitlisted": (409, "该报名不在候补名单中", "This sign-up is not on the waitlist"),
    "checkin_outside_window": (
        422,
        "不在签到时间内（{opens} 至 {closes}）",
        "Outside the check-in window ({opens} to {closes})",
    ),
    "checkin_outside_geofence": (
        422,
        "您不在任务地点范围内（距离约 {distance} 米，须在 {radius} 米内）",
        "You are not at the task's place (about {distance} m away; within {radius} m)",
    ),
    "checkin_code_wrong": (422, "签到码不正确", "The check-in code is wrong"),
    "checkin_not_confirmed": (409, "您没有该任务的已确认名额", "You hold no confirmed place on this task"),
    "checkin_done": (409, "已于 {at} 签到", "Already checked in at {at}"),
    "checkout_before_checkin": (409, "请先签到", "Check in first"),
    "checkout_done": (409, "已于 {at} 签退", "Already checked out at {at}"),
    "roster_too_early": (409, "任务开始后才能结束名单", "The roster can be closed once the task has started"),
    "roster_closed": (409, "该任务名单已结束", "This task's roster is closed"),
    "hours_above_cap": (
        422,
        "时长不能超过任务的计划时长（{cap} 分钟）",
        "Hours cannot exceed the task's planned duration ({cap} minutes)",
    ),
    "own_hours": (403, "不能审核自己录入或自己的志愿时长", "Nobody approves hours they entered, or their own"),
    "claim_decided": (409, "该时长申请已审核（{state}）", "This claim was already decided ({state})"),
    "reversal_of_reversal": (409, "冲正记录不能再冲正", "A reversing entry cannot be reversed"),
    "already_reversed": (409, "该记录已冲正", "This entry was already reversed"),
    "entry_not_reversible": (409, "该记录不能由工作人员冲正", "Staff cannot reverse this entry"),
    "coins_insufficient": (409, "时间币余额不足（余额 {balance}）", "Not enough time coins (balance {balance})"),
    "coins_not_family": (
        422,
        "时间币只能转赠给同住家人或您照护的老人",
        "Coins can be given only to your household or an elder you look after",
    ),
    "certificate_empty": (409, "暂无可证明的志愿时长", "There are no hours to certify yet"),
}
