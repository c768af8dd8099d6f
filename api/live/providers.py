"""Stream providers: who signs the push and play URLs, and how the stream server's callbacks are trusted.

`StreamProvider` is the small interface the rest of `api.live` uses; `TencentCssProvider` implements it
in the scheme of Tencent Cloud Streaming Services (云直播 CSS), which is also what an SRS server in front
of a Tencent-style CDN is configured for:

- Push and live play URLs carry `txSecret` and `txTime` ("Hotlink Protection URL Calculation",
  https://www.tencentcloud.com/document/product/267/31560, 防盗链计算): `txTime` is the URL's expiry as
  a hexadecimal Unix timestamp and `txSecret = MD5(KEY + StreamName + txTime)` in lowercase hex. The
  documented example: KEY `e12c46f2612d5106e2034781ab261ca3`, StreamName `test`, txTime `5C271099`
  gives `f85a2ab363fe4deaffef9754d79da6fe`, and the push URL
  `rtmp://livepush.tcloud.com/live/test?txSecret=f85a2ab363fe4deaffef9754d79da6fe&txTime=5C271099`.
  The push key and the play key are different keys (push domain and play domain are configured apart).
- Recordings are files behind a CDN, signed in Tencent Cloud CDN's "TypeD" key authentication
  (https://www.tencentcloud.com/document/product/228/35225): `sign = MD5(key + path + timestamp)`,
  `t = timestamp` (hexadecimal allowed). `t` here is the expiry: configure the domain's validity
  period to a few seconds. The play key signs them.
- The stream server (SRS) cannot sign its HTTP callbacks, so the callback URL carries a shared secret
  (`?secret=`, or the `X-Linli-Callback-Secret` header from a proxy), compared in constant time; and an
  `on_publish` must present a push `param` this provider signed and that has not expired, so only
  encoders given a push URL by staff can go on air.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, urlsplit

CALLBACK_SECRET_HEADER = "X-Linli-Callback-Secret"
CALLBACK_SECRET_PARAM = "secret"


class CallbackRequest(Protocol):
    """What a provider reads from a callback request (a Flask request fits; so does a test double)."""

    @property
    def args(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class PushCheck(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"  # no txSecret/txTime at all
    INVALID = "invalid"  # a signature that is not ours (forged, tampered, another stream's)
    EXPIRED = "expired"  # ours, but past its txTime


class StreamProvider(Protocol):
    app: str

    def push_url(self, stream_name: str, expires_at: datetime) -> str:
        """The RTMP URL an encoder (OBS, a camera) publishes to, valid until `expires_at`."""

    def play_urls(self, stream_name: str, expires_at: datetime) -> dict[str, str]:
        """Live play URLs valid until `expires_at`: `hls` (`video`), `flv` and `rtmp` (`live-player`)."""

    def replay_url(self, path: str, expires_at: datetime) -> str:
        """A recording's URL, valid until `expires_at`; `path` as stored on the replay file."""

    def verify_callback(self, request: CallbackRequest) -> bool:
        """Whether a callback request comes from our stream server."""

    def check_push_param(self, stream_name: str, param: str, now: datetime) -> PushCheck:
        """Whether the query string an encoder published with was signed by us for this stream."""


def tx_time(expires_at: datetime) -> str:
    """Tencent's `txTime`: the expiry as a hexadecimal Unix timestamp (uppercase, as in the documentation)."""
    return format(int(expires_at.timestamp()), "X")


def tx_secret(key: str, stream_name: str, tx_time_hex: str) -> str:
    """Tencent's `txSecret = MD5(KEY + StreamName + txTime)`, lowercase hex."""
    return hashlib.md5((key + stream_name + tx_time_hex).encode(), usedforsecurity=False).hexdigest()


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


@dataclass(frozen=True)
class TencentCssProvider:
    push_domain: str
    play_domain: str
    push_key: str
    play_key: str
    app: str
    callback_secret: str
    replay_base_url: str = ""

    @property
    def configured(self) -> bool:
        return all((self.push_domain, self.play_domain, self.push_key, self.play_key, self.app))

    # URLs ---------------------------------------------------------------------------------------------

    def _signed_query(self, key: str, stream_name: str, expires_at: datetime) -> str:
        txtime = tx_time(expires_at)
        return f"txSecret={tx_secret(key, stream_name, txtime)}&txTime={txtime}"

    def push_url(self, stream_name: str, expires_at: datetime) -> str:
        query = self._signed_query(self.push_key, stream_name, expires_at)
        return f"rtmp://{self.push_domain}/{self.app}/{stream_name}?{query}"

    def play_urls(self, stream_name: str, expires_at: datetime) -> dict[str, str]:
        # The play domain signs the stream name, not the file name: one signature serves every format.
        query = self._signed_query(self.play_key, stream_name, expires_at)
        base = f"{self.play_domain}/{self.app}/{stream_name}"
        return {
            "hls": f"https://{base}.m3u8?{query}",
            "flv": f"https://{base}.flv?{query}",
            "rtmp": f"rtmp://{base}?{query}",
        }

    def replay_url(self, path: str, expires_at: datetime) -> str:
        if path.startswith(("https://", "http://")):
            return path  # served (and protected) elsewhere, e.g. a VOD service's own URL
        base = self.replay_base_url or f"https://{self.play_domain}/replays"
        url = f"{base}/{quote(path.lstrip('/'))}"
        uri = urlsplit(url).path
        timestamp = tx_time(expires_at).lower()
        sign = hashlib.md5((self.play_key + uri + timestamp).encode(), usedforsecurity=False).hexdigest()
        return f"{url}?sign={sign}&t={timestamp}"

    # Callbacks ----------------------------------------------------------------------------------------

    def verify_callback(self, request: CallbackRequest) -> bool:
        given = request.args.get(CALLBACK_SECRET_PARAM) or request.headers.get(CALLBACK_SECRET_HEADER) or ""
        if not self.callback_secret or not given:
            return False
        return hmac.compare_digest(given.encode(), self.callback_secret.encode())

    def check_push_param(self, stream_name: str, param: str, now: datetime) -> PushCheck:
        query = parse_qs(param.lstrip("?"), keep_blank_values=True)
        secret, txtime = _first(query, "txSecret"), _first(query, "txTime")
        if not secret or not txtime:
            return PushCheck.MISSING
        try:
            expires = datetime.fromtimestamp(int(txtime, 16), UTC)
        except (ValueError, OverflowError, OSError):
            return PushCheck.INVALID
        # The signature covers the txTime exactly as written, so a pushed-back expiry breaks it.
        expected = tx_secret(self.push_key, stream_name, txtime)
        if not self.push_key or not hmac.compare_digest(expected.encode(), secret.lower().encode()):
            return PushCheck.INVALID
        if expires <= now:
            return PushCheck.EXPIRED
        return PushCheck.OK


def make_provider(settings: Any) -> TencentCssProvider:
    """The provider of these settings (`api.config.Settings`)."""
    return TencentCssProvider(
        push_domain=settings.live_push_domain,
        play_domain=settings.live_play_domain,
        push_key=settings.live_push_key,
        play_key=settings.live_play_key,
        app=settings.live_app_name,
        callback_secret=settings.live_callback_secret,
        replay_base_url=settings.live_replay_base_url.rstrip("/"),
    )
