"""The catalogue of messages: for each kind, its inbox text, the mini-program page it opens, and the
WeChat templates (Official Account template message, mini-program subscribe message) with the field
each template slot is filled from.

Template ids belong to the subdistrict's own WeChat accounts: the ids below are the catalogue's
defaults; a deployment sets its own with `WECHAT_TEMPLATE_IDS` (JSON, `{"<kind>.<channel>": "<id>"}`).
The catalogue is exported to `miniprogram_contract/templates.json`, so the mini-program knows which
template ids to ask `wx.requestSubscribeMessage` for.

WeChat refuses a subscribe message whose values break the slot rules (`thing` ≤ 20 characters,
`phrase` ≤ 5, `character_string` ≤ 32 …); `fit_value` makes every value fit instead. Text is cut at its
end, except in a template's address slots: an address ends with the building and room, the part that
finds the door, so it is cut at its start ("…东块10号楼104室").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.fields import LOCAL_TZ
from api.notifications.models import Channel, Urgency


@dataclass(frozen=True)
class Template:
    """One WeChat template: its default id and, per slot key, a format string over the context; `addresses`
    names the slots holding an address (fitted by cutting its start, never the room at its end)."""

    template_id: str
    fields: dict[str, str]
    addresses: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MessageKind:
    kind: str
    description: str
    title: str
    body: str
    page: str | None = None
    urgency: Urgency = Urgency.NORMAL
    official_account: Template | None = None
    subscribe: Template | None = None
    # Channels in the order they are tried; the in-app inbox always has the message anyway.
    channels: tuple[Channel, ...] = field(default=(Channel.OFFICIAL_ACCOUNT, Channel.SUBSCRIBE))

    def template(self, channel: Channel) -> Template | None:
        return self.official_account if channel == Channel.OFFICIAL_ACCOUNT else self.subscribe


CATALOGUE: dict[str, MessageKind] = {}


def install(kinds: Iterable[MessageKind]) -> None:
    """Put the installed domains' message kinds in the catalogue (done by `create_app`, from each domain's
    manifest). A kind is defined once: the same definition again is harmless, another one is a mistake."""
    for kind in kinds:
        known = CATALOGUE.get(kind.kind)
        if known is not None and known != kind:
            raise ValueError(f"message kind {kind.kind!r} is already in the catalogue")
        CATALOGUE[kind.kind] = kind


# Slot rules of subscribe messages (and of the Official Account's new-style templates).
_LIMITS = {
    "thing": 20,
    "phrase": 5,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "name": 10,
    "phone_number": 17,
    "car_number": 8,
    "amount": 11,
}
_NOT_CHARACTER_STRING = re.compile(r"[^0-9A-Za-z!-/:-@\[-`{-~]")
_NOT_NUMBER = re.compile(r"[^0-9.]")
_NOT_LETTER = re.compile(r"[^A-Za-z]")


def slot_type(key: str) -> str:
    """`thing12` → `thing`; `character_string3` → `character_string`."""
    return key.rstrip("0123456789")


def _as_datetime(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _truncate(value: str, limit: int, *, keep_end: bool = False) -> str:
    if len(value) <= limit:
        return value
    return "…" + value[len(value) - limit + 1 :] if keep_end else value[: limit - 1] + "…"


def fit_value(key: str, value: Any, *, address: bool = False) -> str:
    """The value made acceptable to WeChat for slot `key`: shortened, filtered or formatted.

    An `address` too long for its slot loses its start, not the building and room at its end.
    """
    text = "" if value is None else str(value).strip()
    kind = slot_type(key)
    if kind in ("time", "date"):
        moment = _as_datetime(text)
        if moment is not None:
            local = moment.astimezone(LOCAL_TZ)
            return f"{local.year}年{local.month}月{local.day}日" + (f" {local:%H:%M}" if kind == "time" else "")
        return _truncate(text, 20)
    if kind == "character_string":
        text = _NOT_CHARACTER_STRING.sub("", text)
    elif kind in ("number", "amount"):
        text = _NOT_NUMBER.sub("", text)
    elif kind == "letter":
        text = _NOT_LETTER.sub("", text)
    limit = _LIMITS.get(kind)
    if limit is None:
        return _truncate(text, 200, keep_end=address)  # old-style keys (first, keyword1, remark)
    if kind in ("character_string", "number", "letter", "symbol", "phone_number", "car_number", "amount"):
        return text[:limit]  # no ellipsis: it is not in their alphabet
    text = text or "-"  # WeChat refuses an empty thing/phrase/name
    return _truncate(text, limit, keep_end=address)


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, context: dict[str, Any]) -> str:
    """Fill `{name}` placeholders; a missing name renders empty rather than failing delivery."""
    return template.format_map(_Missing(context))


def template_data(kind: MessageKind, channel: Channel, context: dict[str, Any]) -> dict[str, dict[str, str]]:
    template = kind.template(channel)
    assert template is not None
    return {
        key: {"value": fit_value(key, render(fmt, context), address=key in template.addresses)}
        for key, fmt in template.fields.items()
    }


def template_id(kind: MessageKind, channel: Channel, overrides: dict[str, str]) -> str | None:
    template = kind.template(channel)
    if template is None:
        return None
    return overrides.get(f"{kind.kind}.{channel.value}", template.template_id)


def describe(overrides: dict[str, str] | None = None) -> dict[str, Any]:
    """The catalogue as the mini-program needs it (exported to miniprogram_contract/templates.json)."""
    overrides = overrides or {}
    out: dict[str, Any] = {}
    for name in sorted(CATALOGUE):
        kind = CATALOGUE[name]
        entry: dict[str, Any] = {
            "description": kind.description,
            "urgency": kind.urgency.value,
            "page": kind.page,
            "channels": [c.value for c in kind.channels],
        }
        for channel in (Channel.SUBSCRIBE, Channel.OFFICIAL_ACCOUNT):
            template = kind.template(channel)
            if template is not None:
                entry[channel.value] = {
                    "template_id": template_id(kind, channel, overrides),
                    "fields": dict(sorted(template.fields.items())),
                }
        out[name] = entry
    return out
