"""GeoReport v2 output: the same data as JSON or as XML, and the Open311 error document.

The spec's two formats differ in shape only: a JSON array is an XML element holding one child per item
(`services` → `<services><service>…`, a list of requests → `<service_requests><request>…`, a list of
errors → `<errors><error>…`), booleans are `true`/`false` text, and a missing value is an empty element.
XML is built with ElementTree (so every value is escaped by the library, never by hand) and starts with
the UTF-8 declaration the spec asks for. Times are ISO 8601 with their offset, in Asia/Shanghai, whole
seconds ("2026-12-02T09:30:00+08:00").
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Response

from api.fields import LOCAL_TZ

FORMATS = ("json", "xml")
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Element names of the items of a list, where dropping the trailing "s" would not give the spec's name.
ITEM_NAMES = {"service_requests": "request", "attributes": "attribute", "values": "value", "errors": "error"}


# Characters XML 1.0 cannot carry at all (a resident's text may hold them); they are dropped from XML output.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def open311_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).replace(microsecond=0).isoformat()


def item_name(list_name: str) -> str:
    return ITEM_NAMES.get(list_name) or (list_name[:-1] if list_name.endswith("s") else list_name)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return open311_datetime(value)
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list | tuple):
        name = item_name(element.tag)
        for child in value:
            _fill(ET.SubElement(element, name), child)
    else:
        element.text = _text(value)


def to_xml(root: str, data: Any) -> bytes:
    """`data` under a `<root>` element: a list becomes one child per item, a mapping one child per key."""
    element = ET.Element(root)
    _fill(element, data)
    return XML_DECLARATION + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return open311_datetime(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, default=_json_default).encode("utf-8")


def render(fmt: str, root: str, data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A response in `fmt`; `root` names the XML document element (JSON has none: the array or object is it)."""
    body = to_xml(root, data) if fmt == "xml" else to_json(data)
    response = Response(body, status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES["json"]))
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def render_errors(
    fmt: str, status: int, descriptions: Iterable[str], *, headers: Mapping[str, str] | None = None
) -> Response:
    """The spec's error document: `[{"code", "description"}]` / `<errors><error><code/><description/>`."""
    errors = [{"code": status, "description": text} for text in descriptions] or [{"code": status, "description": ""}]
    return render(fmt if fmt in FORMATS else "json", "errors", errors, status=status, headers=headers)
