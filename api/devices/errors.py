"""Error codes of the devices domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "device_serial_exists": (409, "设备序列号 {serial} 已存在", "A device with serial {serial} already exists"),
    "device_retired": (409, "该设备已退役", "This device is retired"),
    "device_room_mismatch": (
        422,
        "设备所在房屋必须是该老人的住址",
        "A device bound to an elder must be in that elder's home",
    ),
    "csv_invalid": (422, "CSV 文件无法读取：{reason}", "The CSV file cannot be read: {reason}"),
}
