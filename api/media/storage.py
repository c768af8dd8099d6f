"""Where photo bytes live: one small `Storage` interface, on MinIO (any S3) or on local disk.

Nothing is ever public. People reach an object only through a URL the app signs for them, valid for
minutes: a presigned GET URL (MinIO), or an app URL carrying an HMAC of key and expiry (local disk,
served by `GET /api/v1/media/files/<key>`). Uploads that skip the app go through an upload ticket: a
presigned POST policy (MinIO), or the same kind of form posted to `POST /api/v1/media/local-uploads`
with a policy the app signed (local disk) — the mini-program's `wx.uploadFile` call is the same for both.

`make_storage(settings)` picks the implementation (`S3_ENDPOINT` set → MinIO); `create_app` builds it
once per app, and `get_storage()` returns the running app's.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import quote, urlencode, urlsplit

import certifi
import flask
import urllib3
from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import MinioException, S3Error

from api.config import Settings

API_MEDIA_PATH = "/api/v1/media"
LOCAL_FILES_PATH = f"{API_MEDIA_PATH}/files"
LOCAL_UPLOAD_PATH = f"{API_MEDIA_PATH}/local-uploads"
EXTENSION_KEY = "linli.storage"
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchBucket", "ResourceNotFound"})
# Object keys the app makes: "photos/ab/<uuid>.jpg", "incoming/<uuid>". Nothing else is ever read or served.
KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_.-]*){0,4}")


class StorageError(Exception):
    """The storage service failed or could not be reached (the request may be retried)."""


class SignatureInvalid(Exception):
    """A local URL or upload policy was not signed by this app, or was altered."""


class SignatureExpired(Exception):
    """A local URL or upload policy was signed by this app but is past its expiry."""


class UploadRefused(Exception):
    """A local upload broke its policy; `code` is an api.errors code."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    content_type: str | None


@dataclass(frozen=True)
class UploadTicket:
    """What `wx.uploadFile` needs: POST `url` with `fields` as formData and the file as `file`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


@runtime_checkable
class Storage(Protocol):
    kind: str

    def put(self, key: str, data: bytes, content_type: str) -> None: ...

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        """At most `max_bytes + 1` bytes of the object (so the caller can tell it is too large), or None."""
        ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...

    def url(self, key: str, *, ttl: timedelta) -> str:
        """A URL that lets whoever holds it GET the object for `ttl`."""
        ...

    def upload_ticket(self, key: str, *, content_type: str, max_bytes: int, ttl: timedelta) -> UploadTicket:
        """A form that lets whoever holds it POST one object of `content_type`, 1..`max_bytes` bytes, at `key`."""
        ...


def check_key(key: str) -> str:
    if not KEY_PATTERN.fullmatch(key) or ".." in key or len(key) > 255:
        raise ValueError(f"not a media object key: {key!r}")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ----------------------------------------------------------------------------------------------------
# Local disk (the embedded default)
# ----------------------------------------------------------------------------------------------------


class LocalStorage:
    """Files under one folder, reachable only through URLs the app signs (HMAC-SHA256 with a key derived
    from SECRET_KEY, over the method, the object key and the expiry)."""

    kind = "local"

    def __init__(self, root: Path, secret_key: str) -> None:
        self.root = Path(root)
        self._key = hmac.new(secret_key.encode(), b"linli.media.local-storage.v1", hashlib.sha256).digest()

    # Objects ---------------------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        target = self.path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)  # readers see the whole file or none of it
        except OSError as exc:
            raise StorageError(f"cannot write {key}: {exc}") from exc

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        try:
            with self.path(key).open("rb") as handle:
                return handle.read(max_bytes + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            return ObjectInfo(size=self.path(key).stat().st_size, content_type=None)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot stat {key}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    # Signed URLs -----------------------------------------------------------------------------------

    def _sign(self, *parts: str) -> str:
        return _b64(hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest())

    @staticmethod
    def _base_url() -> str:
        return flask.request.host_url.rstrip("/") if flask.has_request_context() else ""

    def url(self, key: str, *, ttl: timedelta) -> str:
        expires = int(time.time() + ttl.total_seconds())
        query = urlencode({"expires": expires, "signature": self._sign("GET", check_key(key), str(expires))})
        return f"{self._base_url()}{LOCAL_FILES_PATH}/{quote(key)}?{query}"

    def verify_url(self, key: str, expires: int, signature: str) -> Path:
        """The file a signed URL points at; SignatureInvalid / SignatureExpired otherwise."""
        try:
            check_key(key)
        except ValueError as exc:
            raise SignatureInvalid(str(exc)) from exc
        if not hmac.compare_digest(self._sign("GET", key, str(expires)).encode(), signature.encode("utf-8", "replace")):
            raise SignatureInvalid("signature does not match")
        if expires < time.time():
            raise SignatureExpired("link expired")
        return self.path(key)

    # Upload tickets --------------------------------------------------------------------------------

    def upload_ticket(self, key: str, *, content_type: str, max_bytes: int, ttl: timedelta) -> UploadTicket:
        expires_at = datetime.now(UTC) + ttl
        policy = _b64(
            json.dumps(
                {
                    "key": check_key(key),
                    "content_type": content_type,
                    "max_bytes": max_bytes,
                    "expires": int(expires_at.timestamp()),
                },
                separators=(",", ":"),
            ).encode()
        )
        fields = {"key": key, "Content-Type": content_type, "policy": policy, "signature": self._sign("POST", policy)}
        return UploadTicket(url=f"{self._base_url()}{LOCAL_UPLOAD_PATH}", fields=fields, expires_at=expires_at)

    def accept_upload(self, form: Mapping[str, str], data: bytes) -> str:
        """Store a file posted with an upload ticket's form, if the form's policy allows it; returns its key.

        The same checks S3 makes on a presigned POST: the policy is ours and unexpired, and the key,
        content type and size are the ones it allows.
        """
        policy_text, signature = form.get("policy", ""), form.get("signature", "")
        if not hmac.compare_digest(self._sign("POST", policy_text).encode(), signature.encode("utf-8", "replace")):
            raise UploadRefused("upload_policy_invalid")
        try:
            policy = json.loads(_unb64(policy_text))
            key, content_type = str(policy["key"]), str(policy["content_type"])
            max_bytes, expires = int(policy["max_bytes"]), int(policy["expires"])
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise UploadRefused("upload_policy_invalid") from exc
        if expires < time.time():
            raise UploadRefused("upload_policy_expired")
        if form.get("key") != key or form.get("Content-Type") != content_type:
            raise UploadRefused("upload_policy_invalid")
        if len(data) > max_bytes:
            raise UploadRefused("payload_too_large")
        if not data:
            raise UploadRefused("media_corrupt")
        self.put(key, data, content_type)
        return key


# ----------------------------------------------------------------------------------------------------
# MinIO (or any S3)
# ----------------------------------------------------------------------------------------------------


def _http_client() -> urllib3.PoolManager:
    """The minio default waits 5 minutes on a read and retries 5 times: too long inside a web request."""
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=5, read=30),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )


class MinioStorage:
    """A private bucket. The bucket is created on first write if it is missing; no bucket policy is ever
    set, so every object needs credentials or a presigned URL.

    `public_url` is where phones reach the same server (e.g. `https://media.example.cn` behind a proxy
    that keeps the Host header) when `endpoint` is an intranet name; URLs and tickets are signed for it.
    """

    kind = "s3"

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        secure: bool = True,
        region: str = "us-east-1",
        public_url: str = "",
    ) -> None:
        self.bucket = bucket
        credentials = {"access_key": access_key, "secret_key": secret_key, "region": region}
        self.client = Minio(endpoint, secure=secure, http_client=_http_client(), **credentials)
        if public_url:
            parts = urlsplit(public_url if "//" in public_url else f"https://{public_url}")
            self.signer = Minio(parts.netloc, secure=parts.scheme == "https", **credentials)
            self.public_base = f"{parts.scheme}://{parts.netloc}"
        else:
            self.signer = self.client
            self.public_base = f"{'https' if secure else 'http'}://{endpoint}"
        self._bucket_ready = False
        self._lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                if not self.client.bucket_exists(self.bucket):
                    try:
                        self.client.make_bucket(self.bucket)
                    except S3Error as exc:
                        if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                            raise
            except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
                raise StorageError(f"bucket {self.bucket}: {exc}") from exc
            self._bucket_ready = True

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._ensure_bucket()
        try:
            self.client.put_object(self.bucket, check_key(key), io.BytesIO(data), len(data), content_type=content_type)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot write {key}: {exc}") from exc

    def read(self, key: str, *, max_bytes: int) -> bytes | None:
        response = None
        try:
            response = self.client.get_object(self.bucket, check_key(key), length=max_bytes + 1)
            return response.read(max_bytes + 1)
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                return None
            raise StorageError(f"cannot read {key}: {exc}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot read {key}: {exc}") from exc
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            found = self.client.stat_object(self.bucket, check_key(key))
        except S3Error as exc:
            if exc.code in MISSING_OBJECT_CODES:
                return None
            raise StorageError(f"cannot stat {key}: {exc}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot stat {key}: {exc}") from exc
        return ObjectInfo(size=int(found.size or 0), content_type=found.content_type)

    def delete(self, key: str) -> None:
        try:
            self.client.remove_object(self.bucket, check_key(key))
        except S3Error as exc:
            if exc.code not in MISSING_OBJECT_CODES:
                raise StorageError(f"cannot delete {key}: {exc}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot delete {key}: {exc}") from exc

    def url(self, key: str, *, ttl: timedelta) -> str:
        try:
            return self.signer.presigned_get_object(self.bucket, check_key(key), expires=ttl)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot sign a URL for {key}: {exc}") from exc

    def upload_ticket(self, key: str, *, content_type: str, max_bytes: int, ttl: timedelta) -> UploadTicket:
        self._ensure_bucket()
        expires_at = datetime.now(UTC) + ttl
        policy = PostPolicy(self.bucket, expires_at)
        policy.add_equals_condition("key", check_key(key))
        policy.add_equals_condition("Content-Type", content_type)
        policy.add_content_length_range_condition(1, max_bytes)
        try:
            form = self.signer.presigned_post_policy(policy)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StorageError(f"cannot sign an upload policy for {key}: {exc}") from exc
        fields = {"key": key, "Content-Type": content_type, **form}
        return UploadTicket(url=f"{self.public_base}/{self.bucket}", fields=fields, expires_at=expires_at)


# ----------------------------------------------------------------------------------------------------
# Choosing one
# ----------------------------------------------------------------------------------------------------


def make_storage(settings: Settings) -> Storage:
    if settings.uses_s3:
        return MinioStorage(
            settings.s3_endpoint,
            settings.s3_access_key,
            settings.s3_secret_key,
            settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            public_url=settings.s3_public_url,
        )
    return LocalStorage(settings.media_path, settings.secret_key)


def get_storage() -> Storage:
    """The running app's storage."""
    return flask.current_app.extensions[EXTENSION_KEY]
