# Linli API image. One image, four processes:
#   web     (default)  gunicorn -c gunicorn.conf.py wsgi:app
#   alerts worker      celery -A workers worker -Q alerts --pool threads --concurrency 16 --prefetch-multiplier 1 -n alerts@%h --loglevel=INFO
#   jobs worker        celery -A workers worker -Q notifications,default,bulk -n jobs@%h --loglevel=INFO
#   beat               celery -A workers beat --loglevel=INFO --schedule /tmp/celerybeat-schedule
# (queues: api/jobs.py ROUTES; an alarm never waits behind bulk work.)
# Configure with the environment variables in README.md (DATABASE_URL, REDIS_URL, SECRET_KEY,
# WECHAT_*, S3_*, LINLI_ENV=production). Run `flask --app wsgi db upgrade` once per release.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LINLI_INSTANCE_PATH=/var/lib/linli \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies first, pinned, so code changes do not reinstall them.
COPY pyproject.toml constraints.txt ./
RUN mkdir -p api workers && touch api/__init__.py workers/__init__.py \
    && pip install -c constraints.txt . \
    && pip uninstall -y linli

COPY api ./api
COPY workers ./workers
COPY migrations ./migrations
COPY wsgi.py gunicorn.conf.py ./
# The code runs from /app (PYTHONPATH), so migrations/ is found beside api/.
RUN useradd --system --uid 10001 --home-dir /app linli \
    && mkdir -p /var/lib/linli && chown linli /var/lib/linli

USER linli
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/healthz', timeout=2)"
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
