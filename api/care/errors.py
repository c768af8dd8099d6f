"""Error codes of the elderly services domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "care_transition_not_allowed": (
        409,
        "订单当前状态（{state}）不能执行该操作，可执行：{allowed}",
        "Not allowed while the order is {state}; allowed: {allowed}",
    ),
    "care_not_family": (
        403,
        "您不是该老人已确认的家属，不能为其下单或查看",
        "You are not a confirmed family member of this elder",
    ),
    "care_elder_inactive": (422, "该老人档案未生效（{state}）", "This elder's profile is not active ({state})"),
    "care_service_unavailable": (
        422,
        "该服务暂不可预约：{reason}",
        "This service cannot be ordered: {reason}",
    ),
    "care_after_cutoff": (
        422,
        "已过预约截止时间（{cutoff}）",
        "Orders for that time closed at {cutoff}",
    ),
    "care_too_soon": (
        422,
        "请至少提前 {minutes} 分钟预约（最早 {earliest}）",
        "Order at least {minutes} minutes ahead (earliest {earliest})",
    ),
    "care_quota_exhausted": (
        409,
        "本周长护险服务次数已用完（{used}/{quota}），该服务不支持自费",
        "This week's long-term-care visits are used up ({used}/{quota}) and the service allows no self-pay",
    ),
    "care_self_pay_not_allowed": (
        409,
        "该服务不支持自费，老人不符合补贴条件",
        "This service allows no self-pay and the elder qualifies for no subsidy",
    ),
    "care_cancel_reason_required": (
        422,
        "服务人员已接单，取消请说明原因",
        "A worker has accepted: give a reason to cancel",
    ),
    "care_not_worker": (403, "您不是该服务机构的服务人员", "You are not a worker of this provider"),
    "care_not_your_order": (403, "该订单不由您服务", "This order is not assigned to you"),
    "care_already_taken": (409, "该订单已被他人接单", "Someone else has taken this order"),
    "care_no_worker": (409, "暂无可派单的服务人员", "No worker of a provider serving this order is free"),
    "care_provider_full": (
        409,
        "{name} 当天接单已满（{capacity} 单）",
        "{name} is fully booked that day ({capacity} orders)",
    ),
    "care_outside_window": (
        422,
        "不在服务时间内（{opens} 至 {closes}）",
        "Outside the service window ({opens} to {closes})",
    ),
    "care_code_wrong": (422, "服务码不正确", "The elder's service code is wrong"),
    "care_code_locked": (
        429,
        "服务码错误次数过多，请稍后再试或联系工作人员",
        "Too many wrong codes; try later or call staff",
    ),
    "care_staff_proof_required": (
        422,
        "该老人由工作人员确认服务，请联系工作人员",
        "Staff confirm this elder's visits: call them",
    ),
    "care_already_confirmed": (409, "该订单已确认（{at}）", "This order was already confirmed ({at})"),
    "care_already_rated": (409, "该订单已评价", "This order was already rated"),
    "care_welfare_not_open": (
        409,
        "只有上门无人应答的订单才需要报平安",
        "Only an order nobody answered the door for waits for word that the elder is safe",
    ),
    "care_welfare_already_reported": (409, "已报过平安（{at}）", "The elder was already reported safe ({at})"),
    "care_not_ratable": (409, "服务完成后才能评价", "Rate the order once it is completed"),
    "care_dispute_closed": (
        409,
        "已超过申诉期限（完成后 {days} 天内）",
        "Disputes are open for {days} days after completion",
    ),
    "care_month_invalid": (422, "月份无效：{month}", "Not a valid month: {month}"),
}
