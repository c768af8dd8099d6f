"""How a domain plugs in: its manifest (`Domain`), the one list of installed domains, and the collectors
that the app factory, Alembic, the worker, the beat schedule, the error and message catalogues and
`seed-demo` read from it.

A domain is one package under `api/` whose `__init__.py` holds `domain = Domain(...)`: what it brings
(routes, models, tasks and beat entries, error codes, message kinds, media visibility rules, its demo
seed, the signals of other domains it reacts to, and — for the privacy work — its personal-data
hooks). Modules are named as strings and imported by the collectors, never by the manifest itself, so
reading a manifest imports nothing and registers nothing: registration happens in `create_app`, once,
in the order of `INSTALLED_DOMAINS` (lowest floor first). Adding a domain is writing its package and
naming it here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from api.personaldata import PersonalData

# Lowest floor first (see the layers contract in pyproject.toml): a domain may import those before it on a
# lower floor, never one above; reactions upwards go through signals.
INSTALLED_DOMAINS: tuple[str, ...] = (
    "api.accounts",
    "api.notifications",
    "api.media",
    "api.officialaccount",
    "api.eldercare",
    "api.events",
    "api.payments",
    "api.devices",
    "api.live",
    "api.incidents",
    "api.alerts",
    "api.open311",
    "api.volunteers",
    "api.parking",
    "api.aids",
    "api.party",
    "api.care",
    "api.privacy",
)


@dataclass(frozen=True)
class Domain:
    """What one domain brings. Every module is a dotted name; `"module:attribute"` names one object."""

    name: str
    description: str
    # A module with `blueprints` (flask-smorest, in the API document) and optionally `plain_blueprints`
    # (plain Flask, outside it: Open311, the OA push).
    routes: str | None = None
    models: tuple[str, ...] = ()
    tasks: str | None = None
    # Beat entries by name: {"task": "<celery task name>", "schedule": seconds or a crontab}.
    beat: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # "module:ERRORS": its error codes, code -> (HTTP status, Chinese message, English message).
    errors: str | None = None
    # "module:MESSAGES": the message kinds (`api.notifications.catalogue.MessageKind`) it sends.
    messages: str | None = None
    # Media record types -> "module:function(user, media) -> bool" deciding who sees an attached photo.
    media_visibility: Mapping[str, str] = field(default_factory=dict)
    # Other domains' signals this domain reacts to: ("module:signal", "module:receiver").
    receivers: tuple[tuple[str, str], ...] = ()
    # "module:function() -> dict" adding this domain's part of the demo subdistrict (idempotent).
    seed: str | None = None
    # "module:PersonalData": what it holds about a person, its exporter and eraser (api.personaldata).
    personal_data: str | None = None


def resolve(target: str) -> Any:
    """`"package.module:attribute"` → the attribute; `"package.module"` → the module."""
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attribute) if attribute else module


def load(names: Iterable[str] = INSTALLED_DOMAINS) -> tuple[Domain, ...]:
    """The manifests of the installed domains, in floor order."""
    domains = []
    for name in names:
        manifest = getattr(importlib.import_module(name), "domain", None)
        if not isinstance(manifest, Domain):
            raise TypeError(f"{name} has no `domain = Domain(...)` manifest in its __init__.py")
        domains.append(manifest)
    seen: set[str] = set()
    for manifest in domains:
        if manifest.name in seen:
            raise ValueError(f"two installed domains are called {manifest.name!r}")
        seen.add(manifest.name)
    return tuple(domains)


def model_modules(domains: Iterable[Domain]) -> list[str]:
    return [module for d in domains for module in d.models]


def beat_schedule(domains: Iterable[Domain]) -> dict[str, dict[str, Any]]:
    schedule: dict[str, dict[str, Any]] = {}
    for manifest in domains:
        for entry, spec in manifest.beat.items():
            if entry in schedule:
                raise ValueError(f"beat entry {entry!r} of {manifest.name} is already scheduled")
            schedule[entry] = dict(spec)
    return schedule


def error_codes(domains: Iterable[Domain]) -> dict[str, tuple[int, str, str]]:
    codes: dict[str, tuple[int, str, str]] = {}
    for manifest in domains:
        for code, entry in (resolve(manifest.errors) if manifest.errors else {}).items():
            if code in codes:
                raise ValueError(f"error code {code!r} of {manifest.name} is declared twice")
            codes[code] = entry
    return codes


def message_kinds(domains: Iterable[Domain]) -> list[Any]:
    return [kind for d in domains if d.messages for kind in resolve(d.messages)]


def media_visibility(domains: Iterable[Domain]) -> dict[str, Callable[..., bool]]:
    rules: dict[str, Callable[..., bool]] = {}
    for manifest in domains:
        for record_type, check in manifest.media_visibility.items():
            if record_type in rules:
                raise ValueError(f"media record type {record_type!r} of {manifest.name} is declared twice")
            rules[record_type] = resolve(check)
    return rules


def connect_receivers(domains: Iterable[Domain]) -> None:
    """Subscribe every domain's receivers to the signals they name (blinker ignores a second connect)."""
    for manifest in domains:
        for signal_name, receiver_name in manifest.receivers:
            signal, receiver = resolve(signal_name), resolve(receiver_name)
            signal.connect(receiver, weak=False)


def personal_data(domains: Iterable[Domain]) -> list[tuple[str, PersonalData]]:
    """(domain, its personal-data hooks) of every domain that holds personal data, lowest floor first."""
    return [(d.name, resolve(d.personal_data)) for d in domains if d.personal_data]


def seeds(domains: Iterable[Domain]) -> list[tuple[str, Callable[[], dict[str, Any]]]]:
    return [(d.name, resolve(d.seed)) for d in domains if d.seed]
