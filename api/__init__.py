"""Linli's Flask application. `create_app()` is the only place where the parts are wired together."""

from __future__ import annotations

import gc
import logging
from typing import Any

from celery.signals import after_setup_logger, after_setup_task_logger
from flask import Flask, Response, current_app, g, request, send_from_directory
from flask.sessions import SessionInterface
from kombu import Queue
from sqlalchemy.exc import IntegrityError
from swagger_ui_bundle import swagger_ui_path
from werkzeug.middleware.proxy_fix import ProxyFix

from api import crypto, jobs, platform
from api.auth import wrote_key
from api.cache import StoreUnavailable, make_store
from api.config import ConfigError, Settings
from api.db import db
from api.errors import error_response, is_outage, register_error_handlers, unavailable_response
from api.errors import install as install_errors
from api.extensions import Api, body_types, celery, store
from api.hygiene import LinliRequest
from api.jobs import run_eager_after_request, waiting_for_commit
from api.masking import install_log_masking
from api.media.storage import make_storage
from api.platform import Domain
from api.wechat import make_miniprogram

__all__ = ["ConfigError", "Settings", "create_app", "settle_heap"]


API_PREFIX = "/api/v1"
DOCS_ASSETS = "/api/v1/docs/assets/"

log = logging.getLogger(__name__)

# Loggers whose records may carry a resident's words or a request's query string: ours, the web servers', the
# worker's, the database driver's (parameters, when echoing) and WeChat's. Their records are masked
# (`api.masking.PersonalNumbersFilter`), so no log line holds a phone or ID number in clear.
MASKED_LOGGERS = ("api", "workers", "celery", "kombu", "gunicorn", "werkzeug", "sqlalchemy", "wechatpy")


class MethodOverride:
    """WSGI middleware: a POST carrying `X-HTTP-Method-Override: PATCH` is routed as a PATCH.

    wx.request cannot send PATCH; only POST may be overridden, and only to PATCH.
    """

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").strip().upper()
        if override == "PATCH" and environ.get("REQUEST_METHOD") == "POST":
            environ["REQUEST_METHOD"] = "PATCH"
        return self.wsgi_app(environ, start_response)


class NoCookieSession(SessionInterface):
    """A token API keeps no cookie session: nothing is read from or written to a `session` cookie. Flask's
    default built a signing serializer for every request to find out there was none (a quarter of a bare
    route's time); this answers Flask's null session at once, and saves nothing."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None


class Liveness:
    """Outermost WSGI layer: `GET /healthz` is answered here, before Flask — the orchestrator asks every few
    seconds whether the process answers, which needs nothing else (`api.health.healthz` says the same for
    the test client and the docs; `/readyz`, which checks the database and the broker, goes through Flask)."""

    BODY = b'{"status":"ok"}\n'
    HEADERS = (("Content-Type", "application/json"), ("Content-Length", str(len(BODY))))

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/healthz" and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            start_response("200 OK", list(self.HEADERS))
            return [self.BODY] if environ["REQUEST_METHOD"] == "GET" else []
        return self.wsgi_app(environ, start_response)


def settle_heap() -> None:
    """Once a process has built its app (a gunicorn worker, the Celery worker): what it built — modules, the
    mapped models, the routes and schemas, about half a million objects — lives as long as the process, so it
    is taken out of the garbage collector's sight. Otherwise every full collection walks all of it: 0.3 s a
    time on this project's 2-core machine, twice in each batch of an alarm storm."""
    gc.collect()
    gc.freeze()


def _openapi_config(app: Flask) -> None:
    app.config.update(
        API_TITLE="Linli 邻里 API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=API_PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL=DOCS_ASSETS,
        API_SPEC_OPTIONS={
            "info": {
                "description": (
                    "Backend of the Linli smart-community mini-program. Errors always have the shape "
                    '`{"code", "message", "errors"}`; lists are cursor-paginated (`?limit=&cursor=` → '
                    '`{"items", "next_cursor"}`); times are ISO 8601 in Asia/Shanghai.'
                )
            },
            "components": {
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}
            },
        },
    )


def _check_body_type() -> Response | None:
    if request.method not in ("POST", "PUT", "PATCH"):
        return None
    has_body = (request.content_length or 0) > 0 or "chunked" in request.headers.get("Transfer-Encoding", "")
    if not has_body or request.endpoint is None:
        return None
    view = current_app.view_functions.get(request.endpoint)
    allowed = body_types(view)
    if request.mimetype not in allowed:
        return error_response("unsupported_media_type", params={"expected": ", ".join(sorted(allowed))})
    return None


def _reads_first() -> None:
    """A GET reads without BEGIN and COMMIT round trips until it writes (`Database.read_without_transaction`)."""
    if request.method in ("GET", "HEAD"):
        db.read_without_transaction()


def _finish_unit_of_work(response: Response) -> Response:
    """Commit what a successful request did; anything else is rolled back at teardown. A request that never
    touched the database (the probes, the docs) has no session to commit: creating one costs more than the
    whole of such a request."""
    if response.status_code >= 400 or not db.session.registry.has():
        return response
    if db.only_read() and not waiting_for_commit():
        return response  # a GET that only read: nothing to commit, and the teardown closes its session
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        log.info("commit refused by a constraint on %s %s", request.method, request.path, exc_info=True)
        return error_response("conflict")
    except Exception as exc:
        db.session.rollback()
        if not is_outage(exc):
            raise
        log.warning("database unavailable at commit on %s %s: %s", request.method, request.path, exc)
        return unavailable_response()
    _stick_to_primary()
    run_eager_after_request()
    return response


def _stick_to_primary() -> None:
    """After a committed write, the writer reads from the primary for a few seconds (`api.auth.reads_replica`)."""
    user = g.get("user")
    if db.read_engine is None or user is None or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    try:
        store.mark(wrote_key(user.id), current_app.extensions["linli.settings"].database_read_sticky_seconds)
    except StoreUnavailable:
        log.warning("could not mark %s as a recent writer; the replica may lag behind their write", user.id)


def _init_celery(app: Flask, settings: Settings, domains: tuple[Domain, ...]) -> None:
    celery.conf.update(
        broker_url=settings.redis_url or "memory://",
        result_backend=settings.redis_url or "cache+memory://",
        task_always_eager=settings.eager_tasks,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # Queues by `api.jobs.ROUTES`; a worker started without `-Q` consumes all of them (the embedded default).
        task_default_queue=jobs.DEFAULT,
        task_queues=[Queue(name) for name in jobs.QUEUES],
        task_routes=(jobs.route_task,),
        timezone="Asia/Shanghai",
        enable_utc=True,
        result_expires=3600,
    )
    celery.conf.beat_schedule = platform.beat_schedule(domains)  # as workers/schedule.py
    for manifest in domains:  # every domain's tasks, so the worker and eager calls find them by name
        if manifest.tasks:
            platform.resolve(manifest.tasks)

    celery.flask_app = app  # type: ignore[attr-defined]
    app.extensions["celery"] = celery
    # A worker sets up its own handlers when it starts (after this app is built): mask those as well.
    after_setup_logger.connect(_mask_worker_logs, weak=False)
    after_setup_task_logger.connect(_mask_worker_logs, weak=False)


def _mask_worker_logs(logger: logging.Logger | None = None, **_kwargs: Any) -> None:
    install_log_masking((*MASKED_LOGGERS, *([logger.name] if logger is not None else [])))


def _install_domains(settings: Settings) -> tuple[Domain, ...]:
    """Read the installed domains' manifests and register what they bring: error codes, message kinds,
    who sees attached photos, and their receivers of other domains' signals."""
    from api.media.services import register_media_visibility
    from api.notifications import catalogue

    domains = platform.load(settings.extra.get("DOMAINS", platform.INSTALLED_DOMAINS))
    install_errors(platform.error_codes(domains))
    catalogue.install(platform.message_kinds(domains))
    for record_type, check in platform.media_visibility(domains).items():
        register_media_visibility(record_type, check)
    platform.connect_receivers(domains)
    return domains


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the application. `config` is a `Settings`, overrides of the environment's, or None."""
    if config is None:
        settings = Settings.from_env()
    elif isinstance(config, Settings):
        settings = config
    else:
        settings = Settings.from_env().with_overrides(**config)
    settings.check_production()

    app = Flask(__name__, instance_path=str(settings.instance_path), static_folder=None)
    app.request_class = LinliRequest
    app.session_interface = NoCookieSession()
    app.wsgi_app = MethodOverride(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Behind nginx every request comes from the proxy: without this, per-address limits (login) would
        # put every resident of the subdistrict in one bucket. Only as many hops as are really ours.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_json_body_bytes,
        IDEMPOTENCY_TTL_SECONDS=settings.idempotency_ttl_seconds,
        PROPAGATE_UNEXPECTED=settings.extra.get("PROPAGATE_UNEXPECTED", False),
        LINLI_ENV=settings.env,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["linli.settings"] = settings
    app.extensions["linli.miniprogram"] = make_miniprogram(settings)
    app.extensions["linli.storage"] = make_storage(settings)
    _openapi_config(app)

    crypto.configure(settings.pii_encryption_key, settings.pii_hash_key)
    db.bind(settings.sqlalchemy_url, settings.database_read_url)
    store.backend = make_store(settings.redis_url, settings.redis_key_prefix)
    domains = _install_domains(settings)
    app.extensions["linli.domains"] = domains
    _init_celery(app, settings, domains)

    api = Api(app)
    for manifest in domains:
        if manifest.routes is None:
            continue
        routes = platform.resolve(manifest.routes)
        for blueprint in getattr(routes, "blueprints", ()):
            api.register_blueprint(blueprint)
        # Plain Flask blueprints, outside the API document (Open311's JSON and XML).
        for blueprint in getattr(routes, "plain_blueprints", ()):
            app.register_blueprint(blueprint)
    from api.health import blp as health_blp

    app.register_blueprint(health_blp)

    @app.get(DOCS_ASSETS + "<path:filename>")
    def docs_assets(filename: str) -> Response:
        return send_from_directory(str(swagger_ui_path), filename, max_age=86400)

    register_error_handlers(app)
    app.before_request(_check_body_type)
    app.before_request(_reads_first)
    app.after_request(_finish_unit_of_work)

    @app.teardown_appcontext
    def _remove_session(_exc: BaseException | None) -> None:
        if db.session.registry.has():
            db.session.remove()

    from api.cli import register_cli

    register_cli(app)
    # Outermost, after ProxyFix: the liveness probe crosses nothing else.
    app.wsgi_app = Liveness(app.wsgi_app)  # type: ignore[method-assign]
    # Last, so that every logger the wiring above created is covered.
    install_log_masking(MASKED_LOGGERS)
    return app
