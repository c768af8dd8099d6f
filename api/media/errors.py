"""Error codes of the media domain: code -> (HTTP status, Chinese message, English message)."""

from __future__ import annotations

ERRORS: dict[str, tuple[int, str, str]] = {
    "media_type_not_allowed": (
        415,
        "仅支持 JPEG、PNG、WebP 格式的照片",
        "Only photos in JPEG, PNG or WebP format are accepted",
    ),
    "media_corrupt": (415, "照片文件已损坏或不完整，请重新选择", "The photo file is damaged or incomplete"),
    "media_too_many_pixels": (
        415,
        "照片分辨率过高（上限 {megapixels} 百万像素）",
        "The photo has too many pixels (limit {megapixels} megapixels)",
    ),
    "media_upload_missing": (409, "尚未收到上传的文件，请先上传", "Nothing has been uploaded with this ticket yet"),
    "media_not_available": (422, "照片不存在或不属于您", "No such photo of yours"),
    "media_not_ready": (409, "照片尚未上传完成", "This photo has not finished uploading"),
    "media_already_attached": (409, "照片已被其他记录使用", "This photo is already attached to another record"),
    "media_too_many": (422, "最多只能添加 {limit} 张照片", "At most {limit} photos can be attached"),
    "media_url_invalid": (403, "文件链接无效", "This file link is invalid"),
    "media_url_expired": (403, "文件链接已过期，请刷新后重试", "This file link has expired; reload to get a new one"),
    "upload_policy_invalid": (403, "上传凭证无效", "The upload ticket is invalid"),
    "upload_policy_expired": (403, "上传凭证已过期，请重新获取", "The upload ticket has expired; ask for a new one"),
}
