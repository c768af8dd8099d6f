"""gunicorn settings for the web process (the Dockerfile's default command).

Every value can be overridden by the environment: WEB_CONCURRENCY (workers), PORT, GUNICORN_TIMEOUT.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Requests spend their time in PostgreSQL and WeChat, not the CPU: two workers per core plus one.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Each worker builds its own app (and database pool) after the fork.
preload_app = False
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
