"""The shared singletons: the smorest Api and Blueprint flavours, Celery, the key-value store.

They are created empty at import time and bound to settings by `create_app`, so domain modules can
import them (`from api.extensions import Blueprint, celery`) without an application in hand.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

import flask
import flask_smorest
from celery import Celery, Task
from marshmallow import ValidationError
from webargs import missing
from webargs.flaskparser import FlaskParser, is_json_request
from webargs.multidictproxy import MultiDictProxy

from api.cache import MemoryStore, Store
from api.errors import ApiError, ErrorSchema, flatten_messages
from api.hygiene import check_strings


class LinliParser(FlaskParser):
    """webargs parser that raises our error shape instead of aborting with webargs' own."""

    def _raw_load_json(self, req: flask.Request) -> Any:
        # Through the request's own parser (api.hygiene): one depth limit and one text check for every
        # reader of JSON, and the parsed body cached for whoever reads it next.
        if not is_json_request(req) or not req.get_data(cache=True):
            return missing
        return req.get_json(force=True)

    def pre_load(self, location_data: Any, *, schema: Any, req: flask.Request, location: str) -> Any:
        # JSON was checked as it was parsed; query strings and forms are checked here. Headers are left to
        # the fields that read them (HTTP servers refuse control characters in them already).
        if location not in ("query", "querystring", "form", "view_args"):
            return location_data
        cleaned, errors = check_strings(location_data)
        if errors:
            raise ValidationError(errors)
        return MultiDictProxy(cleaned, schema) if isinstance(location_data, MultiDictProxy) else cleaned

    def _handle_invalid_json_error(
        self, error: json.JSONDecodeError | UnicodeDecodeError, req: flask.Request, *args: Any, **kwargs: Any
    ) -> NoReturn:
        raise ApiError("malformed_json")

    def handle_error(
        self,
        error: Any,
        req: flask.Request,
        schema: Any,
        *,
        error_status_code: int | None,
        error_headers: Any,
    ) -> NoReturn:
        raise ApiError(
            "validation_failed",
            status=error_status_code or 422,
            errors=flatten_messages(error.messages),
            headers=dict(error_headers or {}),
        )


# Bodies the API reads: JSON unless a view declares otherwise with `accepts(...)`.
JSON_TYPES = frozenset({"application/json"})


def accepts(*mimetypes: str) -> Any:
    """Declare the request body types a view reads (default: JSON); others get a 415."""

    def decorator(func: Any) -> Any:
        func._linli_body_types = frozenset(mimetypes)
        return func

    return decorator


def body_types(view: Any) -> frozenset[str]:
    """The request body types `view` reads (a 415 for any other: see `create_app`)."""
    return getattr(view, "_linli_body_types", JSON_TYPES)


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = LinliParser()

    def add_url_rule(self, rule: str, endpoint: str | None = None, view_func: Any = None, *args: Any, **kw: Any) -> Any:
        """Name each operation after its view (`list_household_requests` → `listHouseholdRequests`), so
        generated clients get stable, readable names; names are unique across the API (a test checks)."""
        if view_func is not None and not isinstance(view_func, type):
            first, *rest = view_func.__name__.split("_")
            doc = view_func.__dict__.setdefault("_apidoc", {})
            doc.setdefault("manual_doc", {}).setdefault("operationId", first + "".join(w.title() for w in rest))
        return super().add_url_rule(rule, endpoint, view_func, *args, **kw)

    def alt_response(self, status_code: Any, response: Any = None, **options: Any) -> Any:
        """Error responses document the one error shape unless a view says otherwise."""
        if response is None and "schema" not in options and int(str(status_code)[:3]) >= 400:
            options["schema"] = ErrorSchema
        return super().alt_response(status_code, response, **options)


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        # api.errors.register_error_handlers owns every error response.
        pass


class AppContextTask(Task):
    """Runs a task inside the Flask app, as one unit of work: commit on success, roll back on error.

    Called eagerly from inside a request, it joins the request's unit of work instead.
    """

    abstract = True

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if flask.has_app_context():
            return self.run(*args, **kwargs)
        from api.db import db

        with self.app.flask_app.app_context():
            try:
                result = self.run(*args, **kwargs)
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()


celery = Celery("linli", task_cls=AppContextTask)


class _StoreHolder:
    """Late-bound proxy so modules can hold `store` before the app chooses Redis or memory."""

    def __init__(self) -> None:
        self.backend: Store = MemoryStore()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


store: Any = _StoreHolder()


def get_settings() -> Any:
    """The running app's `Settings`."""
    return flask.current_app.extensions["linli.settings"]


def get_miniprogram() -> Any:
    """The mini-program WeChat client (live or sandbox) of the running app."""
    return flask.current_app.extensions["linli.miniprogram"]
