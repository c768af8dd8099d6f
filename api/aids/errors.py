"""Error codes of rehabilitation aids lending: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "aid_unavailable": (
        409,
        "该服务站暂无可借的{type_name}，可登记等候，有归还时通知您",
        "No {type_name} is free at this station; you may wait and be told when one comes back",
    ),
    "aid_already_lent": (
        409,
        "该辅具已被预约或借出",
        "This aid is already reserved or lent out",
    ),
    "aid_not_lendable": (
        409,
        "该辅具当前状况（{condition}）不能出借",
        "This aid cannot be lent in its condition ({condition})",
    ),
    "aid_loan_not_changeable": (
        409,
        "该借用当前状态（{state}）不能进行此操作",
        "This loan cannot be changed in its current state ({state})",
    ),
    "aid_deposit_unpaid": (
        409,
        "押金尚未支付，支付后方可领取",
        "The deposit is not paid yet; it must be paid before the aid is handed out",
    ),
    "aid_renewal_refused": (
        409,
        "不能续借：{reason}",
        "The loan cannot be renewed: {reason}",
    ),
    "aid_not_for_elder": (
        403,
        "只有老人本人或已确认的家属可以为其借用辅具",
        "Only the elder or a confirmed family member may borrow an aid for them",
    ),
    "aid_already_waiting": (409, "您已在等候该辅具", "You are already waiting for this aid"),
}
