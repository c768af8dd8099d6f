"""The beat schedule: every installed domain's periodic jobs, as their manifests declare them (`beat`)."""

from __future__ import annotations

from api import platform

BEAT_SCHEDULE = platform.beat_schedule(platform.load())
