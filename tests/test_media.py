"""Photos residents upload: what comes back is stripped of EXIF and GPS and upright; anything that is not a
photo is refused by its bytes; nobody but the uploader — or whoever may see the record it is attached
to — gets a URL; unattached uploads are purged after a day.

Every storage-facing case runs twice: on local disk (the embedded default, files served by the app behind
signed URLs) and on MinIO's client talking to moto's S3 server on 127.0.0.1 (presigned URLs fetched with
`requests`, upload tickets posted to it the way `wx.uploadFile` posts).
"""

from __future__ import annotations

import io
import struct
import time
import uuid
import zlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from moto.server import ThreadedMotoServer
from PIL import ExifTags, Image
from sqlalchemy import select, update

from api import create_app, jobs
from api.accounts.models import User
from api.accounts.tasks import ping
from api.config import Settings
from api.db import db, utcnow
from api.extensions import celery, store
from api.media import services
from api.media.models import Media, MediaStatus
from api.media.storage import EXTENSION_KEY, LocalStorage, MinioStorage, Storage, make_storage
from api.media.tasks import purge_unattached
from tests.conftest import bearer, wechat_login
from tests.worker_support import (
    READY_TIMEOUT,
    Worker,
    deployment_env,
    migrated_database,
    process_globals_restored,
    wait_until,
)
from workers.schedule import BEAT_SCHEDULE

MB = 1024 * 1024
WORKER_SECRET_KEY = "media-worker-test-secret-key-long-enough-for-hs256"
GPS_LATITUDE = ((31, 1), (16, 1), (3012, 100))  # 31°16'30.12" N: a flat in Yangpu
GPS_LONGITUDE = ((121, 1), (31, 1), (1, 1))


# ----------------------------------------------------------------------------------------------------
# Storage: the same cases on local disk and on MinIO (moto's S3 server)
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"{host}:{port}"
    finally:
        server.stop()


def _minio(endpoint: str, bucket: str | None = None) -> MinioStorage:
    return MinioStorage(
        endpoint, "linli-test", "linli-test-secret", bucket or f"linli-{uuid.uuid4().hex[:12]}", secure=False
    )


@pytest.fixture(params=["local", "minio"])
def storage(request: pytest.FixtureRequest, app: Flask, tmp_path: Any) -> Iterator[Storage]:
    """The app's storage for this test: local disk in a folder of its own, or a fresh bucket on moto."""
    if request.param == "local":
        chosen: Storage = LocalStorage(tmp_path / "media", app.config["SECRET_KEY"])
    else:
        chosen = _minio(request.getfixturevalue("s3_endpoint"))
    saved = app.extensions[EXTENSION_KEY]
    app.extensions[EXTENSION_KEY] = chosen
    try:
        yield chosen
    finally:
        app.extensions[EXTENSION_KEY] = saved


def stored_keys(storage: Storage) -> set[str]:
    """Every object the storage holds (what a leak or a leftover would show up in)."""
    if isinstance(storage, LocalStorage):
        if not storage.root.exists():
            return set()
        return {str(p.relative_to(storage.root)) for p in storage.root.rglob("*") if p.is_file()}
    assert isinstance(storage, MinioStorage)
    if not storage.client.bucket_exists(storage.bucket):
        return set()
    return {o.object_name for o in storage.client.list_objects(storage.bucket, recursive=True)}


def fetch(client: FlaskClient, url: str) -> tuple[int, bytes, str]:
    """GET a URL handed out by the API, as the mini-program's <image> would: the app's own files through the
    test client, presigned S3 URLs over HTTP."""
    if url.startswith("http://localhost/"):
        response = client.get(url)
        return response.status_code, response.get_data(), response.headers.get("Content-Type", "")
    answer = requests.get(url, timeout=10)
    return answer.status_code, answer.content, answer.headers.get("Content-Type", "")


def post_like_wx_upload_file(client: FlaskClient, ticket: dict[str, Any], data: bytes) -> int:
    """`wx.uploadFile({url, name: file_field, formData: form_data, filePath})`: the form fields, then the file."""
    url, form = ticket["upload"]["url"], ticket["upload"]["form_data"]
    name = ticket["upload"]["file_field"]
    if url.startswith("http://localhost/"):
        response = client.post(
            url, data={**form, name: (io.BytesIO(data), "wxfile-tmp.jpg")}, content_type="multipart/form-data"
        )
        return response.status_code
    answer = requests.post(
        url, data=form, files={name: ("wxfile-tmp.jpg", data, "application/octet-stream")}, timeout=10
    )
    return answer.status_code


# ----------------------------------------------------------------------------------------------------
# Photos to upload
# ----------------------------------------------------------------------------------------------------


def two_tone(size: tuple[int, int] = (60, 40), mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue, so a rotation shows in the pixels."""
    image = Image.new(mode, size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    return image


def phone_photo(orientation: int = 6) -> bytes:
    """A JPEG as a phone writes it: sideways pixels plus an Orientation tag, GPS coordinates, the camera
    model, an XMP packet and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = tuple(n / d for n, d in GPS_LATITUDE)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = tuple(n / d for n, d in GPS_LONGITUDE)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>31,16.5N</exif:GPSLatitude></x:xmpmeta>'
    out = io.BytesIO()
    two_tone().save(out, "JPEG", quality=95, exif=exif.tobytes(), xmp=xmp, comment=b"home: KJ01-01-001 101")
    data = out.getvalue()
    # The test photo really carries what must be stripped.
    with Image.open(io.BytesIO(data)) as check:
        assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
        assert check.getexif()[ExifTags.Base.Orientation] == orientation
        assert "xmp" in check.info and "comment" in check.info
    return data


def encoded(fmt: str, **options: Any) -> bytes:
    mode = "RGBA" if fmt in ("PNG", "WEBP") else "RGB"
    out = io.BytesIO()
    image = two_tone(mode=mode)
    if mode == "RGBA":
        image.paste((0, 0, 0, 0), (0, 0, 10, 10))  # a transparent corner
    exif = Image.Exif()
    exif[ExifTags.Base.Model] = "Pixel 8"
    exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] = "N"
    image.save(out, fmt, exif=exif.tobytes(), **options)
    return out.getvalue()


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header promises 900 megapixels (about 2.7 GB decoded) in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (1 + 3 * width) * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


RENAMED_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"
)


# ----------------------------------------------------------------------------------------------------
# People and calls
# ----------------------------------------------------------------------------------------------------


@pytest.fixture
def lisi(client: FlaskClient, world: Any) -> dict[str, Any]:
    tokens = wechat_login(client, "lisi#1")
    return {**tokens, "headers": bearer(tokens["access_token"])}


def upload(
    client: FlaskClient,
    who: dict[str, Any],
    data: bytes,
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    **headers: str,
) -> Any:
    return client.post(
        "/api/v1/media",
        data={"file": (io.BytesIO(data), filename, content_type)},
        headers={**who["headers"], **headers},
        content_type="multipart/form-data",
    )


def uploaded(client: FlaskClient, who: dict[str, Any], data: bytes | None = None) -> dict[str, Any]:
    response = upload(client, who, data or phone_photo())
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"code", "message", "errors"}
    assert body["code"] == code
    assert body["message"]
    return body


def user_of(who: dict[str, Any]) -> User:
    user = db.session.get(User, uuid.UUID(who["user"]["id"]))
    assert user is not None
    return user


def media_rows() -> list[Media]:
    db.session.remove()
    return list(db.session.scalars(select(Media)))


def assert_clean(data: bytes) -> Image.Image:
    """No EXIF (so no GPS, camera or orientation), no XMP, no comment: nothing but pixels (and colour profile)."""
    assert b"Exif\x00\x00" not in data
    assert b"http://ns.adobe.com/xap/1.0/" not in data
    assert b"KJ01" not in data and b"iPhone" not in data and b"Pixel 8" not in data
    image = Image.open(io.BytesIO(data))
    assert len(image.getexif()) == 0
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "comment", "XML:com.adobe.xmp"} & set(image.info)
    return image


def colour_at(image: Image.Image, xy: tuple[int, int]) -> str:
    r, _g, b = image.convert("RGB").getpixel(xy)[:3]
    return "red" if r > 150 and b < 100 else "blue" if b > 150 and r < 100 else f"other({r},{b})"


# ----------------------------------------------------------------------------------------------------
# What comes back
# ----------------------------------------------------------------------------------------------------


def test_a_phone_photo_comes_back_without_exif_or_gps_and_upright(client, resident, storage):
    body = uploaded(client, resident, phone_photo(orientation=6))

    # Orientation 6: the camera was held upright; the sensor's 60×40 pixels are shown 40 wide, 60 tall.
    assert (body["width"], body["height"]) == (40, 60)
    assert body["content_type"] == "image/jpeg"
    assert body["status"] == "ready"
    status, data, content_type = fetch(client, body["url"])
    assert status == 200
    assert content_type.startswith("image/jpeg")
    image = assert_clean(data)
    assert image.size == (40, 60)
    # The left (red) half of the sensor is the top of the picture once turned upright.
    assert colour_at(image, (20, 5)) == "red"
    assert colour_at(image, (20, 55)) == "blue"
    assert body["size"] == len(data)

    # Nothing stored anywhere still has the metadata: the raw upload was never kept.
    for key in stored_keys(storage):
        assert_clean(storage.read(key, max_bytes=10 * MB) or b"")


def test_the_thumbnail_is_a_small_clean_jpeg(client, resident, storage):
    big = io.BytesIO()
    two_tone((1200, 800)).save(big, "JPEG", exif=Image.Exif().tobytes())
    body = uploaded(client, resident, big.getvalue())

    assert body["thumbnail_url"] is not None
    status, data, content_type = fetch(client, body["thumbnail_url"])
    assert status == 200 and content_type.startswith("image/jpeg")
    thumb = assert_clean(data)
    assert thumb.format == "JPEG"
    assert thumb.size == (400, 267)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("WEBP", "image/webp")],
)
def test_png_and_webp_photos_are_accepted_and_cleaned(client, resident, storage, fmt, content_type):
    # Named and declared wrongly on purpose: only the bytes count.
    response = upload(client, resident, encoded(fmt), filename="IMG_0001.jpg", content_type="image/jpeg")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == content_type
    assert (body["width"], body["height"]) == (60, 40)
    status, data, served_type = fetch(client, body["url"])
    assert status == 200 and served_type.startswith(content_type)
    image = assert_clean(data)
    assert image.format == fmt
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0  # transparency survives
    status, thumbnail, _ = fetch(client, body["thumbnail_url"])
    assert status == 200 and Image.open(io.BytesIO(thumbnail)).format == "JPEG"


def test_a_cmyk_jpeg_is_stored_as_rgb(client, resident, storage):
    out = io.BytesIO()
    two_tone().convert("CMYK").save(out, "JPEG")

    body = uploaded(client, resident, out.getvalue())

    image = assert_clean(fetch(client, body["url"])[1])
    assert image.mode == "RGB"
    assert colour_at(image, (5, 20)) == "red"


# ----------------------------------------------------------------------------------------------------
# What is refused
# ----------------------------------------------------------------------------------------------------


def test_a_renamed_exe_is_refused_and_nothing_is_stored(client, resident, storage):
    response = upload(client, resident, RENAMED_EXE, filename="photo.jpg", content_type="image/jpeg")

    body = assert_error(response, 415, "media_type_not_allowed")
    assert "JPEG" in body["message"]
    assert "file" in body["errors"]
    assert media_rows() == []
    assert stored_keys(storage) == set()


def truncated_jpeg() -> bytes:
    data = phone_photo()
    return data[: len(data) * 2 // 3]


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"just some notes, not a photo\n" * 20, "x.jpg", "media_type_not_allowed"),
        (b"<?php system($_GET['c']); ?>", "avatar.png", "media_type_not_allowed"),
        (b"GIF89a" + b"\x00" * 64, "anim.gif", "media_type_not_allowed"),
        (b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "IMG_0001.HEIC", "media_type_not_allowed"),
        (b"", "empty.jpg", "media_type_not_allowed"),
        (b"\xff\xd8\xff\xe0" + b"\x13\x37" * 200, "corrupt.jpg", "media_corrupt"),
        (None, "truncated.jpg", "media_corrupt"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt.png", "media_corrupt"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8, "corrupt.webp", "media_corrupt"),
        (png_bomb(), "bomb.png", "media_too_many_pixels"),
        (png_bomb(8000, 8000), "64mp.png", "media_too_many_pixels"),
    ],
    ids=["text", "script", "gif", "heic", "empty", "corrupt-jpeg", "truncated-jpeg", "corrupt-png", "corrupt-webp",
         "decompression-bomb", "too-many-pixels"],
)  # fmt: skip
def test_what_is_not_a_good_photo_is_refused_with_415(client, resident, storage, data, filename, code):
    response = upload(client, resident, truncated_jpeg() if data is None else data, filename=filename)

    assert_error(response, 415, code)
    assert media_rows() == []
    assert stored_keys(storage) == set()


def test_the_refusal_speaks_english_when_asked(client, resident):
    response = upload(client, resident, RENAMED_EXE, **{"Accept-Language": "en"})

    assert assert_error(response, 415, "media_type_not_allowed")["message"] == (
        "Only photos in JPEG, PNG or WebP format are accepted"
    )


def test_a_photo_over_10_mb_is_413(client, resident):
    big = phone_photo() + b"\x00" * (10 * MB)  # a JPEG with 10 MB of trailing padding

    body = assert_error(upload(client, resident, big), 413, "payload_too_large")

    assert "10 MB" in body["message"]
    assert media_rows() == []


def test_a_photo_of_exactly_10_mb_is_not_refused_for_its_size(client, resident):
    photo = phone_photo()
    padded = photo + b"\x00" * (10 * MB - len(photo))  # bytes after the JPEG's end are ignored by decoders

    response = upload(client, resident, padded)

    assert response.status_code == 201, response.get_json()


class CountingStream(io.RawIOBase):
    """A request body of zeros that counts what the server reads of it."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True  # the test client measures the body by seeking to its end and back

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = offset if whence == io.SEEK_SET else self.size + offset
        return self.position

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = b"\x00" * n
        self.position += n
        self.read_bytes += n
        return n


def test_a_50_mb_upload_is_refused_before_it_is_read(client, resident):
    body = CountingStream(50 * MB)

    response = client.post(
        "/api/v1/media",
        input_stream=body,
        headers={**resident["headers"], "Content-Length": str(50 * MB)},
        content_type="multipart/form-data; boundary=xyz",
    )

    assert_error(response, 413, "payload_too_large")
    assert body.read_bytes < MB


def test_the_upload_must_be_multipart_with_a_file(client, resident):
    as_json = client.post("/api/v1/media", json={"file": "x"}, headers=resident["headers"])
    assert_error(as_json, 415, "unsupported_media_type")

    text_field = client.post(
        "/api/v1/media", data={"file": "not a file"}, headers=resident["headers"], content_type="multipart/form-data"
    )
    assert "file" in assert_error(text_field, 422, "validation_failed")["errors"]

    anonymous = client.post(
        "/api/v1/media", data={"file": (io.BytesIO(phone_photo()), "a.jpg")}, content_type="multipart/form-data"
    )
    assert_error(anonymous, 401, "unauthorized")


# ----------------------------------------------------------------------------------------------------
# Who sees a photo
# ----------------------------------------------------------------------------------------------------


def test_another_resident_cannot_fetch_the_photo(client, resident, lisi, admin, storage):
    photo = uploaded(client, resident)

    mine = client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"])
    assert mine.status_code == 200
    assert mine.get_json()["url"] and mine.get_json()["url_expires_at"]

    # Neither another resident nor staff (it is attached to nothing they may see): the same 404 as for a
    # photo that does not exist.
    for who in (lisi, admin):
        response = client.get(f"/api/v1/media/{photo['id']}", headers=who["headers"])
        assert (
            assert_error(response, 404, "not_found")
            == client.get(f"/api/v1/media/{uuid.uuid4()}", headers=who["headers"]).get_json()
        )
        assert_error(client.delete(f"/api/v1/media/{photo['id']}", headers=who["headers"]), 404, "not_found")
        assert_error(client.post(f"/api/v1/media/{photo['id']}/complete", headers=who["headers"]), 404, "not_found")


def test_a_fresh_url_is_handed_out_on_every_read(client, resident, storage):
    photo = uploaded(client, resident)
    time.sleep(1.1)

    again = client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]).get_json()

    assert again["url"] != photo["url"]
    assert fetch(client, again["url"])[0] == 200


@pytest.mark.smoke
def test_a_local_file_url_is_bound_to_its_key_and_expiry(client, resident, app, tmp_path):
    local = LocalStorage(tmp_path / "media", app.config["SECRET_KEY"])
    app.extensions[EXTENSION_KEY], saved = local, app.extensions[EXTENSION_KEY]
    try:
        photo = uploaded(client, resident)
        url = urlsplit(photo["url"])
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        thumb_path = urlsplit(photo["thumbnail_url"]).path

        assert client.get(photo["url"]).status_code == 200
        # The photo's signature on the thumbnail's key, a later expiry, a forged signature, none at all.
        tampered = [
            f"{thumb_path}?{url.query}",
            f"{url.path}?expires={int(query['expires']) + 3600}&signature={query['signature']}",
            f"{url.path}?expires={query['expires']}&signature={query['signature'][:-2]}AA",
            f"{url.path}?expires={query['expires']}&signature=x",
        ]
        for forged in tampered:
            assert_error(client.get(forged), 403, "media_url_invalid")
        assert_error(client.get(url.path), 422, "validation_failed")

        # The owner's own signature, past its time.
        key = url.path.removeprefix("/api/v1/media/files/")
        with app.test_request_context():
            expired = local.url(key, ttl=timedelta(seconds=-5))
        assert_error(client.get(expired), 403, "media_url_expired")

        # Keys outside the media folder cannot even be expressed.
        with app.test_request_context():
            for sneaky in ("../linli.sqlite3", "photos/../../secret", "photos/%2e%2e/%2e%2e/secret"):
                sig = local._sign("GET", sneaky, str(int(time.time()) + 60))
                response = client.get(f"/api/v1/media/files/{sneaky}?expires={int(time.time()) + 60}&signature={sig}")
                assert response.status_code in (403, 404), response.status_code
                assert response.is_json

        served = client.get(photo["url"])
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert served.headers["Cache-Control"].startswith("private")
    finally:
        app.extensions[EXTENSION_KEY] = saved


def test_an_unreachable_minio_is_a_503_and_keeps_nothing(client, resident, app):
    app.extensions[EXTENSION_KEY], saved = _minio("127.0.0.1:9"), app.extensions[EXTENSION_KEY]
    try:
        assert_error(upload(client, resident, phone_photo()), 503, "service_unavailable")
        assert_error(ticket_for(client, resident, 1000), 503, "service_unavailable")
        assert media_rows() == []
    finally:
        app.extensions[EXTENSION_KEY] = saved


def test_with_minio_the_local_file_routes_do_not_exist(client, resident, app, s3_endpoint):
    app.extensions[EXTENSION_KEY], saved = _minio(s3_endpoint), app.extensions[EXTENSION_KEY]
    try:
        response = client.get("/api/v1/media/files/photos/ab/x.jpg?expires=1&signature=x")
        assert_error(response, 404, "not_found")
        photo = uploaded(client, resident)
        assert photo["url"].startswith(f"http://{s3_endpoint}/")
        assert "X-Amz-Signature=" in photo["url"] and "X-Amz-Expires=600" in photo["url"]
    finally:
        app.extensions[EXTENSION_KEY] = saved


# ----------------------------------------------------------------------------------------------------
# Straight to storage: upload ticket, wx.uploadFile, complete
# ----------------------------------------------------------------------------------------------------


def ticket_for(client: FlaskClient, who: dict[str, Any], size: int, content_type: str = "image/jpeg") -> Any:
    return client.post(
        "/api/v1/media/upload-tickets", json={"content_type": content_type, "size": size}, headers=who["headers"]
    )


def test_an_upload_ticket_takes_a_photo_straight_to_storage(client, resident, storage):
    photo = phone_photo()
    response = ticket_for(client, resident, len(photo))
    assert response.status_code == 201, response.get_json()
    ticket = response.get_json()
    assert ticket["status"] == "pending_upload"
    assert ticket["upload"]["file_field"] == "file"
    assert ticket["upload"]["form_data"]["Content-Type"] == "image/jpeg"

    pending = client.get(f"/api/v1/media/{ticket['id']}", headers=resident["headers"]).get_json()
    assert pending["status"] == "pending_upload" and pending["url"] is None

    assert post_like_wx_upload_file(client, ticket, photo) == 204
    (raw_key,) = stored_keys(storage)
    assert raw_key.startswith("incoming/")

    completed = client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"])
    assert completed.status_code == 200, completed.get_json()
    body = completed.get_json()
    assert body["status"] == "ready" and body["id"] == ticket["id"]
    assert (body["width"], body["height"]) == (40, 60)
    status, data, _ = fetch(client, body["url"])
    assert status == 200
    assert assert_clean(data).size == (40, 60)
    assert raw_key not in stored_keys(storage), "the raw upload with its GPS data must be gone"
    assert body["thumbnail_url"] is not None

    # A retry (the answer was lost on a weak network) gets the same photo.
    again = client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"])
    assert again.status_code == 200 and again.get_json()["id"] == ticket["id"]


def test_complete_refuses_what_is_not_a_photo_and_deletes_it(client, resident, storage):
    ticket = ticket_for(client, resident, len(RENAMED_EXE)).get_json()
    assert post_like_wx_upload_file(client, ticket, RENAMED_EXE) == 204

    refused = client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"])

    assert_error(refused, 415, "media_type_not_allowed")
    assert stored_keys(storage) == set()
    (row,) = media_rows()
    assert row.status == MediaStatus.PENDING_UPLOAD
    # The ticket still works for a real photo.
    assert post_like_wx_upload_file(client, ticket, phone_photo()) == 204
    assert client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"]).status_code == 200


def test_complete_refuses_an_object_over_10_mb(client, resident, storage):
    ticket = ticket_for(client, resident, 5 * MB).get_json()
    # As if the store had not enforced the ticket's size range.
    storage.put(f"incoming/{ticket['id']}", phone_photo() + b"\x00" * (10 * MB), "image/jpeg")

    refused = client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"])

    assert_error(refused, 413, "payload_too_large")
    assert stored_keys(storage) == set()


def test_complete_before_uploading_is_a_409(client, resident, storage):
    ticket = ticket_for(client, resident, 1000).get_json()

    response = client.post(f"/api/v1/media/{ticket['id']}/complete", headers=resident["headers"])

    assert_error(response, 409, "media_upload_missing")


def test_a_ticket_is_refused_for_a_big_file_or_a_type_we_do_not_take(client, resident, storage):
    assert_error(ticket_for(client, resident, 10 * MB + 1), 413, "payload_too_large")
    assert (
        "content_type"
        in assert_error(ticket_for(client, resident, 10, "image/gif"), 422, "validation_failed")["errors"]
    )
    assert "size" in assert_error(ticket_for(client, resident, 0), 422, "validation_failed")["errors"]
    assert media_rows() == []


def test_open_tickets_are_limited(client, resident, storage):
    for _ in range(services.MAX_OPEN_TICKETS):
        assert ticket_for(client, resident, 1000).status_code == 201

    assert_error(ticket_for(client, resident, 1000), 429, "too_many_requests")


@pytest.mark.smoke
def test_the_local_upload_target_keeps_to_the_ticket(client, resident, app, tmp_path):
    local = LocalStorage(tmp_path / "media", app.config["SECRET_KEY"])
    app.extensions[EXTENSION_KEY], saved = local, app.extensions[EXTENSION_KEY]
    try:
        ticket = ticket_for(client, resident, 1000).get_json()
        form = ticket["upload"]["form_data"]
        photo = phone_photo()

        def post(fields: dict[str, str], data: bytes = photo) -> Any:
            return client.post(
                "/api/v1/media/local-uploads",
                data={**fields, "file": (io.BytesIO(data), "tmp.jpg")},
                content_type="multipart/form-data",
            )

        other_key = f"incoming/{uuid.uuid4()}"
        assert_error(post({**form, "key": other_key}), 403, "upload_policy_invalid")
        assert_error(post({**form, "Content-Type": "text/html"}), 403, "upload_policy_invalid")
        assert_error(post({**form, "signature": "A" * 43}), 403, "upload_policy_invalid")
        assert_error(post({**form, "policy": form["policy"][:-4] + "AAAA"}), 403, "upload_policy_invalid")
        assert_error(post(form, b"\xff\xd8\xff" + b"\x00" * (10 * MB)), 413, "payload_too_large")
        missing = {k: v for k, v in form.items() if k != "signature"}
        assert "signature" in assert_error(post(missing), 422, "validation_failed")["errors"]
        assert stored_keys(local) == set()

        with app.test_request_context():
            stale = local.upload_ticket(
                f"incoming/{ticket['id']}", content_type="image/jpeg", max_bytes=10 * MB, ttl=timedelta(seconds=-1)
            )
        assert_error(post(stale.fields), 403, "upload_policy_expired")

        assert post(form).status_code == 204
        assert stored_keys(local) == {f"incoming/{ticket['id']}"}
    finally:
        app.extensions[EXTENSION_KEY] = saved


# ----------------------------------------------------------------------------------------------------
# Attaching photos to records, and who sees them then
# ----------------------------------------------------------------------------------------------------


REPORT = "test_report"


@pytest.fixture
def reports() -> Iterator[dict[uuid.UUID, set[uuid.UUID]]]:
    """A stand-in domain: report id → the users who may see it (its reporter, the staff in scope...)."""
    viewers: dict[uuid.UUID, set[uuid.UUID]] = {}
    services.register_media_visibility(REPORT, lambda user, record_id: user.id in viewers.get(record_id, set()))
    try:
        yield viewers
    finally:
        services._visibility.pop(REPORT, None)


def test_attached_photos_are_seen_by_whoever_may_see_the_record(client, resident, lisi, admin, storage, reports):
    photo = uploaded(client, resident)
    report_id = uuid.uuid4()
    reports[report_id] = {uuid.UUID(resident["user"]["id"]), uuid.UUID(admin["user"]["id"])}

    services.attach([uuid.UUID(photo["id"])], user_of(resident), REPORT, report_id)
    db.session.commit()

    seen = client.get(f"/api/v1/media/{photo['id']}", headers=admin["headers"])
    assert seen.status_code == 200 and seen.get_json()["attached"] is True
    assert fetch(client, seen.get_json()["url"])[0] == 200
    assert client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]).status_code == 200
    assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=lisi["headers"]), 404, "not_found")

    # The record's rule changes (the report was hidden from its reporter): so do the photo's viewers.
    reports[report_id] = {uuid.UUID(lisi["user"]["id"])}
    assert client.get(f"/api/v1/media/{photo['id']}", headers=lisi["headers"]).status_code == 200
    assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]), 404, "not_found")
    # Attached: the uploader can no longer take it back.
    reports[report_id].add(uuid.UUID(resident["user"]["id"]))
    assert_error(
        client.delete(f"/api/v1/media/{photo['id']}", headers=resident["headers"]), 409, "media_already_attached"
    )


def test_a_check_that_fails_or_is_missing_shows_the_photo_to_nobody(client, resident, storage, reports):
    photo = uploaded(client, resident)
    services.register_media_visibility("broken", lambda user, record_id: 1 / 0)
    try:
        services.attach([uuid.UUID(photo["id"])], user_of(resident), "broken", uuid.uuid4())
        db.session.commit()
        assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]), 404, "not_found")
    finally:
        services._visibility.pop("broken", None)
    assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]), 404, "not_found")


def _api_error(call: Any) -> Any:
    from api.errors import ApiError

    with pytest.raises(ApiError) as caught:
        call()
    db.session.rollback()
    return caught.value


def test_attach_takes_only_the_owners_ready_free_photos_up_to_the_limit(client, resident, lisi, storage, reports):
    mine = [uuid.UUID(uploaded(client, resident)["id"]) for _ in range(3)]
    theirs = uuid.UUID(uploaded(client, lisi)["id"])
    pending = uuid.UUID(ticket_for(client, resident, 1000).get_json()["id"])
    zhangsan, report, other_report = user_of(resident), uuid.uuid4(), uuid.uuid4()

    not_mine = _api_error(lambda: services.attach([mine[0], theirs], zhangsan, REPORT, report, field="photo_ids"))
    assert (not_mine.code, not_mine.status) == ("media_not_available", 422)
    assert list(not_mine.errors) == ["photo_ids"] and str(theirs) in not_mine.errors["photo_ids"][0]
    assert _api_error(lambda: services.attach([uuid.uuid4()], zhangsan, REPORT, report)).code == "media_not_available"
    assert _api_error(lambda: services.attach([pending], zhangsan, REPORT, report)).code == "media_not_ready"
    too_many = _api_error(lambda: services.attach(mine, zhangsan, REPORT, report, max_count=2))
    assert (too_many.code, too_many.params) == ("media_too_many", {"limit": 2})

    attached = services.attach([mine[1], mine[0]], zhangsan, REPORT, report, max_count=3)
    db.session.commit()
    assert [m.id for m in attached] == [mine[1], mine[0]]
    # A retried request attaches nothing twice; the record's limit counts what it already has.
    services.attach([mine[0]], zhangsan, REPORT, report, max_count=3)
    assert _api_error(lambda: services.attach([mine[2], theirs], zhangsan, REPORT, report)).code == (
        "media_not_available"
    )
    elsewhere = _api_error(lambda: services.attach([mine[0]], zhangsan, REPORT, other_report))
    assert (elsewhere.code, elsewhere.status) == ("media_already_attached", 409)
    services.attach([mine[2]], zhangsan, REPORT, report, max_count=3)
    db.session.commit()
    assert [m.id for m in services.photos_of(REPORT, report)] == [mine[1], mine[0], mine[2]]
    assert services.photos_of(REPORT, other_report) == []
    one_more = uuid.UUID(uploaded(client, resident)["id"])
    full = _api_error(lambda: services.attach([one_more], zhangsan, REPORT, report, max_count=3))
    assert full.code == "media_too_many"

    with pytest.raises(ValueError, match="register_media_visibility"):
        services.attach([mine[0]], zhangsan, "unregistered", report)


def test_the_uploader_can_take_back_an_unattached_photo(client, resident, storage):
    photo = uploaded(client, resident)
    assert len(stored_keys(storage)) == 2  # the photo and its thumbnail

    assert client.delete(f"/api/v1/media/{photo['id']}", headers=resident["headers"]).status_code == 204

    assert stored_keys(storage) == set()
    assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]), 404, "not_found")


# ----------------------------------------------------------------------------------------------------
# Cleaning up, and thumbnails after commit
# ----------------------------------------------------------------------------------------------------


def _age(media_id: str, hours: float) -> None:
    db.session.execute(
        update(Media).where(Media.id == uuid.UUID(media_id)).values(created_at=utcnow() - timedelta(hours=hours))
    )
    db.session.commit()


def purge(app: Flask) -> dict[str, int]:
    """Run the beat job as a worker would, on this app (and so on this test's storage)."""
    with app.app_context():
        return purge_unattached.delay().get()


def test_the_purge_removes_only_stale_unattached_uploads_and_their_objects(app, client, resident, storage, reports):
    stale = uploaded(client, resident)
    stale_ticket = ticket_for(client, resident, 1000).get_json()
    assert post_like_wx_upload_file(client, stale_ticket, phone_photo()) == 204  # uploaded, never completed
    fresh = uploaded(client, resident)
    attached = uploaded(client, resident)
    report_id = uuid.uuid4()
    reports[report_id] = {uuid.UUID(resident["user"]["id"])}
    services.attach([uuid.UUID(attached["id"])], user_of(resident), REPORT, report_id)
    db.session.commit()
    for media_id in (stale["id"], stale_ticket["id"], attached["id"]):
        _age(media_id, 25)
    _age(fresh["id"], 23)
    before = stored_keys(storage)

    result = purge(app)

    assert result == {"media": 2, "objects": 3, "kept": 0}
    assert {str(m.id) for m in media_rows()} == {fresh["id"], attached["id"]}
    gone = before - stored_keys(storage)
    assert {k.rsplit("/", 1)[-1].split(".")[0] for k in gone} == {stale["id"], stale_ticket["id"]}
    assert len(gone) == 3  # photo + thumbnail, and the raw upload of the ticket
    for photo in (fresh, attached):
        assert client.get(f"/api/v1/media/{photo['id']}", headers=resident["headers"]).status_code == 200


def test_the_purge_keeps_a_row_whose_objects_cannot_be_deleted(app, client, resident, storage, monkeypatch):
    photo = uploaded(client, resident)
    _age(photo["id"], 30)

    def broken(key: str) -> None:
        raise services.StorageError("storage is down")

    monkeypatch.setattr(storage, "delete", broken)
    assert purge(app) == {"media": 0, "objects": 0, "kept": 1}
    monkeypatch.undo()
    assert purge(app)["media"] == 1
    assert media_rows() == []


@pytest.mark.smoke
def test_the_thumbnail_task_is_sent_only_once_the_upload_commits(app, resident, storage, monkeypatch):
    sent: list[uuid.UUID] = []

    def hand_over(task_name: str, *args: str, **_options: object) -> bool:
        if task_name == services.THUMBNAIL_TASK:
            sent.append(uuid.UUID(args[0]))
        return True

    monkeypatch.setattr(jobs, "enqueue", hand_over)
    monkeypatch.setattr(services, "enqueue", hand_over)
    monkeypatch.setitem(celery.conf, "task_always_eager", False)
    owner = user_of(resident)

    with app.test_request_context():
        rolled_back = services.upload(owner, phone_photo(), storage)
        db.session.flush()
        assert sent == []
        db.session.rollback()
        assert sent == []
        kept = services.upload(owner, phone_photo(), storage)
        assert sent == []
        db.session.commit()
    assert sent == [kept.id]
    assert rolled_back.id not in sent

    # A task the broker lost: the sweep sends it again once the photo has waited a few minutes.
    sent.clear()
    db.session.execute(update(Media).values(created_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    assert services.sweep_thumbnails() == 1
    assert sent == [kept.id]
    with app.app_context():
        assert services.make_thumbnail(kept.id, storage) is True
        db.session.commit()
        assert services.make_thumbnail(kept.id, storage) is False
    assert services.sweep_thumbnails() == 0


# ----------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_the_embedded_default_stores_on_local_disk_and_s3_endpoint_switches_to_minio(base_settings, s3_endpoint):
    assert isinstance(make_storage(base_settings), LocalStorage)
    assert make_storage(base_settings).root == base_settings.media_path
    minio = make_storage(base_settings.with_overrides(s3_endpoint=s3_endpoint, s3_secure=False))
    assert isinstance(minio, MinioStorage)
    assert minio.bucket == "linli"
    public = make_storage(
        base_settings.with_overrides(
            s3_endpoint="minio.internal:9000",
            s3_access_key="linli",
            s3_secret_key="linli-secret",
            s3_public_url="https://media.example.cn",
        )
    )
    assert isinstance(public, MinioStorage)
    url = public.url("photos/ab/x.jpg", ttl=timedelta(minutes=10))
    assert url.startswith("https://media.example.cn/linli/photos/ab/x.jpg?")


def test_an_app_configured_with_s3_settings_keeps_photos_in_a_private_bucket(app, base_settings, s3_endpoint, world):
    """The whole wiring from S3_* settings: create_app builds MinIO storage, the bucket is created on first
    upload, and an object URL without a signature gets nothing."""
    bucket = f"linli-app-{uuid.uuid4().hex[:8]}"
    saved_store, saved_flask_app = store.backend, getattr(celery, "flask_app", None)
    try:
        s3_app = create_app(
            base_settings.with_overrides(
                s3_endpoint=s3_endpoint,
                s3_access_key="linli-test",
                s3_secret_key="linli-test-secret",
                s3_bucket=bucket,
                s3_secure=False,
            )
        )
        client = s3_app.test_client()
        who = {**wechat_login(client, "wangwu#1")}
        who["headers"] = bearer(who["access_token"])
        photo = uploaded(client, who)

        assert photo["url"].startswith(f"http://{s3_endpoint}/{bucket}/photos/")
        status, data, _ = fetch(client, photo["url"])
        assert status == 200
        assert_clean(data)
        storage = s3_app.extensions[EXTENSION_KEY]
        assert isinstance(storage, MinioStorage)
        with pytest.raises(Exception, match="NoSuchBucketPolicy"):
            storage.client.get_bucket_policy(bucket)
    finally:
        store.backend = saved_store
        celery.flask_app = saved_flask_app  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------------------------------
# A real worker (services pass): thumbnails and the purge go through Redis to `celery -A workers worker`
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_worker_settings(pg_url: str, broker_url: str, s3_endpoint: str) -> Iterator[dict[str, str]]:
    """What a deployment with MinIO sets, for the worker process and the app that sends it work; the worker
    gets a PostgreSQL database of its own."""
    with migrated_database(pg_url, prefix="linli_media") as database_url:
        yield {
            "DATABASE_URL": database_url,
            "REDIS_URL": broker_url,
            "SECRET_KEY": WORKER_SECRET_KEY,
            "S3_ENDPOINT": s3_endpoint,
            "S3_ACCESS_KEY": "linli-test",
            "S3_SECRET_KEY": "linli-test-secret",
            "S3_BUCKET": f"linli-worker-{uuid.uuid4().hex[:8]}",
            "S3_SECURE": "false",
        }


@pytest.fixture(scope="module")
def media_worker(s3_worker_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Worker]:
    instance = tmp_path_factory.mktemp("media-worker")
    worker = Worker.start(deployment_env(LINLI_INSTANCE_PATH=str(instance), **s3_worker_settings), instance / "log")
    try:
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def media_sender(
    media_worker: Worker, s3_worker_settings: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An app on the worker's database, broker and bucket whose tasks go through the broker."""
    env = {**s3_worker_settings, "LINLI_INSTANCE_PATH": str(tmp_path_factory.mktemp("media-sender"))}
    settings = Settings.from_env(env).with_overrides(env="test", celery_always_eager=False)
    with process_globals_restored():
        sender = create_app(settings)
        with media_worker.log_on_failure():
            assert media_worker.result(ping.apply_async(), timeout=READY_TIMEOUT) == "pong"
        yield sender


@pytest.mark.services
def test_a_real_worker_makes_the_thumbnail_after_commit_and_purges_stale_uploads(media_sender, media_worker):
    client = media_sender.test_client()
    tokens = wechat_login(client, "zhaoliu#1")
    who = {**tokens, "headers": bearer(tokens["access_token"])}

    with media_worker.log_on_failure():
        photo = uploaded(client, who)
        assert photo["thumbnail_url"] is None  # the task is sent only once the upload has committed
        assert_clean(fetch(client, photo["url"])[1])

        def with_thumbnail() -> dict[str, Any] | None:
            current = client.get(f"/api/v1/media/{photo['id']}", headers=who["headers"]).get_json()
            return current if current["thumbnail_url"] else None

        current = wait_until(with_thumbnail, 30, "the thumbnail", media_worker)
        status, data, _ = fetch(client, current["thumbnail_url"])
        assert status == 200
        assert assert_clean(data).size == (40, 60)
        assert "media.make_thumbnail" in media_worker.log()

        with media_sender.app_context():
            _age(photo["id"], 25)
            db.session.remove()
        removed = media_worker.result(celery.send_task(BEAT_SCHEDULE["purge-unattached-media"]["task"]))
        assert removed == {"media": 1, "objects": 2, "kept": 0}
        assert_error(client.get(f"/api/v1/media/{photo['id']}", headers=who["headers"]), 404, "not_found")
        assert fetch(client, photo["url"])[0] == 404
