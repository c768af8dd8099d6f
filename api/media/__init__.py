"""Media: photos residents and workers upload — validated by their bytes, stripped of EXIF/GPS, stored
privately (MinIO or local disk), handed out only through short-lived signed URLs to people allowed to
see them, attached to other domains' records, and purged when never attached.

Other domains use `api.media.services`: `attach(...)`, `photos_of(...)`, `present(...)`, `release(...)`; a
domain says who may see the photos attached to its records in its manifest (`media_visibility`).
"""

from celery.schedules import crontab

from api.platform import Domain

domain = Domain(
    name="media",
    description="photo uploads, validation, EXIF stripping, thumbnails, signed URLs",
    routes="api.media.routes",
    models=("api.media.models",),
    tasks="api.media.tasks",
    beat={
        "purge-unattached-media": {"task": "media.purge_unattached", "schedule": crontab(minute=43)},
        "sweep-thumbnails": {"task": "media.sweep_thumbnails", "schedule": 600.0},
    },
    errors="api.media.errors:ERRORS",
    personal_data="api.media.personal:personal_data",
)
