"""Media: photos residents and workers upload — validated by their bytes, stripped of EXIF/GPS, stored
privately (MinIO or local disk), handed out only through short-lived signed URLs to people allowed to
see them, attached to other domains' records, and purged when never attached.

Other domains use `api.media.services`: `attach(...)`, `photos_of(...)`, `present(...)`, `release(...)` and
`register_media_visibility(record_type, check)`.
"""
