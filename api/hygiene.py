"""Input hygiene at the edge: what every piece of text and every JSON body must be before any domain
sees it.

- JSON bodies are parsed here (`load_json`), with a nesting limit: a body of 100,000 `[` is a 400
  `malformed_json`, not a parser that runs out of stack.
- Every string a client sends — JSON values and keys, query and form values — is checked here
  (`check_strings`): no lone surrogates (they cannot be encoded for the database or hashed), no NUL,
  no C0/C1 control characters other than tab, newline and carriage return (terminal escapes, BEL,
  backspace), and no bidirectional override or isolate characters (a U+202E in an elder's name
  reverses what a staff member reads on a list). A refusal is a 422 naming each field.
- Text is NFC-normalised, so "é" typed two ways is one value for lookups and uniqueness.
- Whether a field may hold a line break, and how long it may be, is the field's business:
  `api.fields.Text`.

The request class `LinliRequest` routes Flask's own `request.get_json()` through `load_json`, so
webargs, the Open311 routes and any future reader of JSON get the same rules without knowing of them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from flask import Request

from api.errors import ApiError, wants_english

MAX_JSON_DEPTH = 32

# C0 controls but tab, LF and CR; DEL; C1 controls. Bidi embeddings/overrides (U+202A–U+202E) and isolates
# (U+2066–U+2069). Lone surrogates (U+D800–U+DFFF) can only come from JSON `\ud800` escapes.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SUSPECT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

MESSAGES = {
    "surrogate": ("包含无效的字符编码", "contains an invalid character (a lone surrogate)"),
    "nul": ("不能包含 NUL 字符", "must not contain NUL characters"),
    "control": ("不能包含控制字符", "must not contain control characters"),
    "bidi": ("不能包含文字方向控制字符", "must not contain text-direction control characters"),
    "newline": ("不能包含换行或制表符", "must be a single line (no line breaks or tabs)"),
}


def message(kind: str) -> str:
    zh, en = MESSAGES[kind]
    return en if wants_english() else zh


def text_problem(value: str) -> str | None:
    """The first thing wrong with this text (a key of `MESSAGES`), or None. Cheap when nothing is."""
    if _SUSPECT.search(value) is None:
        return None
    if _SURROGATE.search(value):
        return "surrogate"
    if "\x00" in value:
        return "nul"
    if _CONTROL.search(value):
        return "control"
    return "bidi"


def normalise(value: str) -> str:
    return value if value.isascii() or unicodedata.is_normalized("NFC", value) else unicodedata.normalize("NFC", value)


def _field_name(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def check_strings(data: Any, prefix: str = "") -> tuple[Any, dict[str, list[str]]]:
    """`data` with every string NFC-normalised, and the problems found per (dotted) field name.

    Walks dicts, lists and mappings with `keys()` (Werkzeug's MultiDicts keep every value of a key).
    """
    errors: dict[str, list[str]] = {}

    def clean(value: Any, name: str) -> Any:
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                errors.setdefault(name or "_body", [message(problem)])
                return value
            return normalise(value)
        if isinstance(value, list):
            return [clean(item, name) for item in value]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                key_name = _field_name(name, key)
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem is not None:
                        errors.setdefault(_field_name(name, ascii(key)[1:-1]), [message(problem)])
                        continue
                    key = normalise(key)
                out[key] = clean(item, key_name)
            return out
        return value

    if hasattr(data, "getlist") and hasattr(data, "keys"):  # a MultiDict: keep repeated keys
        from werkzeug.datastructures import MultiDict

        keys = list(data.keys())
        items = [(key, clean(value, _field_name(prefix, key))) for key in keys for value in data.getlist(key)]
        for key in keys:
            problem = text_problem(key) if isinstance(key, str) else None
            if problem is not None:
                errors.setdefault(_field_name(prefix, ascii(key)[1:-1]), [message(problem)])
        return MultiDict(items), errors
    return clean(data, prefix), errors


def _depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def load_json(raw: bytes | str, *, check_text: bool = True) -> Any:
    """Parse a request body: 400 `malformed_json` for what is not JSON or nests deeper than the limit;
    with `check_text`, 422 naming every field whose text is refused (see the module docstring)."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError("malformed_json") from exc
    # A document can only nest as deep as it has brackets: most bodies are spared the walk.
    brackets = raw.count(b"[" if isinstance(raw, bytes) else "[") + raw.count(b"{" if isinstance(raw, bytes) else "{")
    if brackets > MAX_JSON_DEPTH and _depth_exceeds(value, MAX_JSON_DEPTH):
        raise ApiError("malformed_json", errors={"_body": [_depth_message()]})
    if check_text:
        value, errors = check_strings(value)
        if errors:
            raise ApiError("validation_failed", errors=errors)
    return value


def _depth_message() -> str:
    if wants_english():
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    return f"嵌套层数超过 {MAX_JSON_DEPTH} 层"


class _RequestJson:
    """What `LinliRequest.get_json()` parses with (Werkzeug calls `json_module.loads`)."""

    @staticmethod
    def loads(raw: bytes | str, **_kwargs: Any) -> Any:
        return load_json(raw)

    @staticmethod
    def dumps(value: Any, **kwargs: Any) -> str:
        return json.dumps(value, **kwargs)


class LinliRequest(Request):
    # Flask assigns the app's JSON provider to every request it opens; requests keep their own parser.
    @property  # type: ignore[override]
    def json_module(self) -> Any:
        return _RequestJson

    @json_module.setter
    def json_module(self, _value: Any) -> None:
        pass

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type
            raise ApiError("unsupported_media_type", expected="application/json")
        raise ApiError("malformed_json")
