"""Error codes of the parking domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "period_invalid": (422, "时段无效：{problem}", "The period is invalid: {problem}"),
    "outside_window": (
        422,
        "所选时段超出共享时段：{window}",
        "The period is not inside a sharing window: {window}",
    ),
    "rules_invalid": (422, "共享规则有误", "The sharing rules are invalid"),
    "plate_invalid": (422, "车牌号无效：{rule}", "The plate is invalid: {rule}"),
    "plate_taken": (409, "该车牌已登记在其他住户名下", "This plate is registered to another household"),
    "plate_registered": (409, "该车牌已登记", "This plate is already registered"),
    "vehicle_limit": (
        409,
        "每户最多登记 {limit} 辆车",
        "A household may register at most {limit} vehicles",
    ),
    "household_required": (
        403,
        "请先绑定房屋（住户）后再登记车辆",
        "Bind to a household before registering a vehicle",
    ),
    "vehicle_not_verified": (
        409,
        "该车辆尚未通过核验（请上传行驶证或等待工作人员核验）",
        "This vehicle is not verified yet (upload the driving licence or wait for staff)",
    ),
    "quote_expired": (409, "报价已过期，请重新查询", "The quote has expired; ask for a new one"),
    "space_taken": (409, "车位在该时段已被占用", "The space is taken for that period"),
    "lot_full": (409, "该停车场在该时段已满", "The car park is full for that period"),
    "parking_suspended": (
        403,
        "您近期有 {limit} 次预约未到场，{until} 前暂不能预约",
        "You missed {limit} bookings recently; you can book again after {until}",
    ),
    "booking_not_changeable": (
        409,
        "该预约当前状态（{state}）不能进行此操作",
        "This booking cannot be changed in its current state ({state})",
    ),
    "cancel_not_refundable": (
        409,
        "已过免费取消时间（{cutoff}）",
        "The free cancellation deadline ({cutoff}) has passed",
    ),
    "not_occupied": (
        409,
        "车位传感器显示空闲，请确认车位编号",
        "The space's sensor reads vacant; check the space number",
    ),
    "offer_pending": (409, "已有待审核的共享申请", "An offer is already waiting for approval"),
    "offer_decided": (409, "该共享申请已处理", "This offer was already decided"),
    "lender_required": (403, "只有车位的出借人可以操作", "Only the space's lender may do this"),
    "pool_below_bookings": (
        409,
        "容量不能少于已预约的车辆数（{peak}）",
        "Capacity cannot go below the cars already booked ({peak})",
    ),
    "gate_signature_missing": (
        401,
        "缺少道闸平台签名头（X-Linli-Platform、X-Linli-Timestamp、X-Linli-Signature）",
        "The gate platform headers X-Linli-Platform, X-Linli-Timestamp and X-Linli-Signature are required",
    ),
    "gate_signature_invalid": (401, "道闸/地磁平台签名无效", "The gate or sensor platform signature is invalid"),
    "gate_timestamp_stale": (
        401,
        "签名时间戳超出允许范围（±{window} 秒）",
        "The signature timestamp is more than {window} s away from the server's clock",
    ),
    "gate_replayed": (409, "该请求已提交过（重放）", "This signed call was already received (replay)"),
    "gate_not_configured": (503, "道闸/地磁接入尚未配置", "Gate and sensor ingestion is not configured"),
    "gate_batch_invalid": (422, "请求体必须是记录数组", "The body must be a JSON array of records"),
    "gate_batch_too_large": (
        413,
        "每批最多 {limit} 条记录，本批 {count} 条",
        "At most {limit} records per batch; this one has {count}",
    ),
}
