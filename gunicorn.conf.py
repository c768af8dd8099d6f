"""gunicorn settings for the web process (the Dockerfile's default command).

Every value can be overridden by the environment: WEB_CONCURRENCY (workers), GUNICORN_WORKER_CLASS,
GUNICORN_THREADS, GUNICORN_WORKER_CONNECTIONS, PORT, GUNICORN_TIMEOUT.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Requests spend their time in PostgreSQL and WeChat, not the CPU: two workers per core plus one.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# gthread, chosen by measurement (bench/login_stall.py, 2 workers, 4 logins in flight each waiting 3 s for
# WeChat's code2session, 8 clients on /healthz): sync workers served 1.7 /healthz per second during the stall
# (415 without it; one waited 6.4 s), gthread with 8 threads 892 (928 without it). A login holds a thread, not
# the worker. gevent is not installed (psycopg 3 would need monkey-patching). Each thread may hold one pooled
# database connection: the pool (10 + 10 overflow per process, api/db.py) covers GUNICORN_THREADS up to 20.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# A worker holds at most as many connections as it has threads; the rest wait in the listen backlog for a worker
# with a free one. gthread's default (1,000) let one worker take every kept-alive connection of a client that
# opens them at once — wrk's 16, nginx's upstream pool — and serve them on one core while the other worker idled
# (seen with `ss`: 16/0 and 14/2 connections per worker; /me swung between 136 and 425 req/s run to run).
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", str(threads)))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Each worker builds its own app (and database pool) after the fork.
preload_app = False
accesslog = "-"
errorlog = "-"
# The longest request line gunicorn can take (its default is 4094): what is longer is refused by gunicorn
# itself with a plain-text 414 before the app can answer in its error shape, so the proxy in front must
# refuse it first (nginx does at 8 KB, `large_client_header_buffers`; see the README).
limit_request_line = 8190
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
