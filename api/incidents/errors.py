"""Error codes of the incidents domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "unknown_category": (422, "请选择有效的问题类型", "Choose a valid incident category"),
    "photo_required": (422, "该类问题需要上传照片", "A photo is required for this kind of problem"),
    "location_out_of_bounds": (
        422,
        "位置不在本街道范围内",
        "The location is outside the subdistrict",
    ),
    "transition_not_allowed": (
        409,
        "当前状态（{state}）不能执行该操作，可执行：{allowed}",
        "Not allowed while the case is {state}; allowed: {allowed}",
    ),
    "incident_not_resolved": (409, "问题尚未办结，暂不能评价", "The case is not resolved yet; feedback comes after"),
    "feedback_already_given": (409, "您已评价过本次处理结果", "You already gave feedback on this resolution"),
    "merge_not_allowed": (409, "不能合并：{reason}", "These cases cannot be merged: {reason}"),
}
