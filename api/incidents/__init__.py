"""Incidents (随手拍 / 民情): reports, their handling cycle, statistics."""
