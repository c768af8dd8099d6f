"""Events streamed live and watched again later: staff get a signed push URL for their encoder, the
stream server's callbacks take the stream on and off the air and register its recording, residents are
told what to play, and their heartbeats become the figures staff see."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from api.config import Settings
from api.db import db, new_id
from api.events.models import Event, EventCategory, EventStatus
from api.live import routes as live_routes
from api.live.models import LiveSession, LiveStatus, ReplayFile, ViewingSession
from api.live.providers import PushCheck, TencentCssProvider
from tests.conftest import bearer, wechat_login

SECRET = "linli-dev-live-callback-secret"  # the development default of LIVE_CALLBACK_SECRET
PUSH_KEY = "linli-dev-live-push-key"
PLAY_KEY = "linli-dev-live-play-key"
# A fixed moment, a few seconds into a minute, so heartbeats fall into known minutes.
T0 = datetime(2026, 11, 28, 19, 0, 5, tzinfo=UTC)


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch):
    """The time the live routes see (sign, verify, count)."""
    fake = Clock(T0)
    monkeypatch.setattr(live_routes, "utcnow", fake)
    return fake


@pytest.fixture
def make_event(world):
    def make(status=EventStatus.PUBLISHED, area="KJ01", starts_at=None):
        starts = starts_at or T0 + timedelta(minutes=30)
        event = Event(
            id=new_id(),
            title="社区健康讲座：冬季养生",
            description="",
            category=EventCategory.HEALTH,
            venue="控江一村睦邻中心",
            area_id=world.areas[area].id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            booking_opens_at=starts - timedelta(days=7),
            booking_closes_at=starts - timedelta(hours=1),
            capacity=50,
            eligibility={},
            status=status,
            published_at=T0 if status == EventStatus.PUBLISHED else None,
            created_by_id=world.users["kj01"].id,
        )
        db.session.add(event)
        db.session.commit()
        return str(event.id)

    return make


def enable(client, staff, event_id, **body):
    return client.post(f"/api/v1/admin/events/{event_id}/live", json=body, headers=staff["headers"])


def staff_view(client, staff, event_id):
    response = client.get(f"/api/v1/admin/events/{event_id}/live", headers=staff["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def watch(client, person, event_id):
    return client.get(f"/api/v1/events/{event_id}/live", headers=person["headers"])


def beat(client, person, event_id, play_id, mode="live", **extra):
    return client.post(
        f"/api/v1/events/{event_id}/live/heartbeats",
        json={"play_id": play_id, "mode": mode, **extra},
        headers=person["headers"],
    )


def srs(client, action, stream, *, secret=SECRET, client_id="1985", **fields):
    """What an SRS server posts to its http_hooks (the secret in the hook URL)."""
    body = {
        "server_id": "vid-0xk989d",
        "service_id": "hqa7b4m2",
        "stream_url": f"/live/{stream}",
        "stream_id": "vid-124q9y3",
        "action": action,
        "client_id": client_id,
        "ip": "10.17.3.21",
        "vhost": "__defaultVhost__",
        "app": "live",
        "stream": stream,
        "param": "",
        **fields,
    }
    url = "/api/v1/live/callbacks" + (f"?secret={secret}" if secret is not None else "")
    return client.post(url, json=body)


def push_param(push_url: str) -> str:
    return "?" + urlsplit(push_url).query


@pytest.fixture
def on_air(client, kj01_staff, make_event, clock):
    """An event with a live session; `publish()` puts it on the air with the staff's push URL."""

    class OnAir:
        event_id = make_event()
        created = enable(client, kj01_staff, event_id).get_json()
        stream = created["stream_name"]
        param = push_param(created["push"]["url"])

        def publish(self, client_id="1985"):
            response = srs(client, "on_publish", self.stream, client_id=client_id, param=self.param)
            assert response.status_code == 200, response.get_json()
            return response

        def unpublish(self, client_id="1985"):
            return srs(client, "on_unpublish", self.stream, client_id=client_id)

        def dvr(self, name=None):
            name = name or f"{self.stream}.1764327605000.flv"
            return srs(client, "on_dvr", self.stream, cwd="/usr/local/srs", file=f"./objs/nginx/html/live/{name}")

    return OnAir()


def session_row(event_id) -> LiveSession:
    db.session.expire_all()
    return db.session.scalar(select(LiveSession).where(LiveSession.event_id == uuid.UUID(event_id)))


# ----------------------------------------------------------------------------------------------------
# Signing, in Tencent Cloud CSS's scheme
# ----------------------------------------------------------------------------------------------------


def tencent(**overrides):
    values = {
        "push_domain": "livepush.tcloud.com",
        "play_domain": "liveplay.tcloud.com",
        "push_key": "e12c46f2612d5106e2034781ab261ca3",
        "play_key": "a-play-key",
        "app": "live",
        "callback_secret": SECRET,
    }
    return TencentCssProvider(**{**values, **overrides})


def test_push_url_is_tencents_documented_example():
    # Tencent's "Hotlink Protection URL Calculation": KEY e12c…ca3, StreamName "test", txTime 5C271099.
    expires = datetime.fromtimestamp(0x5C271099, UTC)
    assert md5("e12c46f2612d5106e2034781ab261ca3" + "test" + "5C271099") == "f85a2ab363fe4deaffef9754d79da6fe"

    url = tencent().push_url("test", expires)

    assert url == ("rtmp://livepush.tcloud.com/live/test?txSecret=f85a2ab363fe4deaffef9754d79da6fe&txTime=5C271099")


def test_play_urls_are_signed_with_the_play_key_until_their_expiry():
    expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    urls = tencent().play_urls("lvabc", expires)

    assert set(urls) == {"hls", "flv", "rtmp"}
    assert urls["hls"].startswith("https://liveplay.tcloud.com/live/lvabc.m3u8?")
    assert urls["flv"].startswith("https://liveplay.tcloud.com/live/lvabc.flv?")
    assert urls["rtmp"].startswith("rtmp://liveplay.tcloud.com/live/lvabc?")
    for url in urls.values():
        query = parse_qs(urlsplit(url).query)
        tx_time = query["txTime"][0]
        assert int(tx_time, 16) == int(expires.timestamp())
        assert query["txSecret"][0] == md5("a-play-key" + "lvabc" + tx_time)


def test_replay_url_is_signed_like_a_tencent_cdn_type_d_link():
    expires = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    url = tencent(replay_base_url="https://vod.example.cn/replays").replay_url("live/lvabc.1764.flv", expires)

    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert parts.path == "/replays/live/lvabc.1764.flv"
    assert int(query["t"][0], 16) == int(expires.timestamp())
    assert query["sign"][0] == md5("a-play-key" + "/replays/live/lvabc.1764.flv" + query["t"][0])


def test_a_push_param_is_checked_for_its_stream_its_signature_and_its_expiry():
    provider = tencent()
    now = datetime(2026, 11, 28, 19, 0, tzinfo=UTC)
    good = push_param(provider.push_url("lvabc", now + timedelta(hours=1)))

    assert provider.check_push_param("lvabc", good, now) == PushCheck.OK
    assert provider.check_push_param("lvabc", good, now + timedelta(hours=2)) == PushCheck.EXPIRED
    assert provider.check_push_param("lvother", good, now) == PushCheck.INVALID
    assert provider.check_push_param("lvabc", "", now) == PushCheck.MISSING
    later = format(int((now + timedelta(days=30)).timestamp()), "X")
    assert provider.check_push_param("lvabc", good.split("&txTime=")[0] + f"&txTime={later}", now) == PushCheck.INVALID
    assert provider.check_push_param("lvabc", "?txSecret=abc&txTime=zz", now) == PushCheck.INVALID
    assert tencent(push_key="another-key").check_push_param("lvabc", good, now) == PushCheck.INVALID


# ----------------------------------------------------------------------------------------------------
# Staff
# ----------------------------------------------------------------------------------------------------


def test_staff_enable_a_stream_once_and_get_a_push_url_for_their_encoder(client, kj01_staff, make_event, clock):
    event_id = make_event()

    created = enable(client, kj01_staff, event_id)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["status"] == "scheduled"
    assert body["publish_count"] == 0
    stream = body["stream_name"]
    assert len(stream) >= 20  # not guessable

    push = body["push"]
    assert push["url"].startswith(f"rtmp://livepush.linli.localhost/live/{stream}?txSecret=")
    assert push["server"] == "rtmp://livepush.linli.localhost/live/"
    assert push["url"] == push["server"] + push["stream_key"]
    query = parse_qs(urlsplit(push["url"]).query)
    assert query["txSecret"][0] == md5(PUSH_KEY + stream + query["txTime"][0])
    # Valid until six hours after the scheduled end.
    ends_at = T0 + timedelta(minutes=30, hours=2)
    assert int(query["txTime"][0], 16) == int((ends_at + timedelta(hours=6)).timestamp())
    assert datetime.fromisoformat(push["expires_at"]) == ends_at + timedelta(hours=6)
    assert body["figures"]["live"] == {
        "unique_viewers": 0,
        "peak_concurrent_viewers": 0,
        "peak_at": None,
        "watch_minutes": 0.0,
        "watch_seconds": 0,
    }

    again = enable(client, kj01_staff, event_id)
    assert again.status_code == 200
    assert again.get_json()["stream_name"] == stream
    assert db.session.scalar(select(func.count()).select_from(LiveSession)) == 1
    assert staff_view(client, kj01_staff, event_id)["stream_name"] == stream


def test_staff_may_set_when_the_stream_starts(client, kj01_staff, make_event, clock):
    event_id = make_event()
    start = (T0 + timedelta(minutes=20)).isoformat()

    body = enable(client, kj01_staff, event_id, scheduled_start=start).get_json()

    assert datetime.fromisoformat(body["scheduled_start"]) == T0 + timedelta(minutes=20)


def test_staff_of_another_committee_cannot_touch_the_stream(client, kj01_staff, kj02_staff, admin, make_event, clock):
    event_id = make_event(area="KJ01")

    refused = enable(client, kj02_staff, event_id)
    assert refused.status_code == 404
    assert refused.get_json()["code"] == "not_found"
    assert db.session.scalar(select(func.count()).select_from(LiveSession)) == 0

    assert enable(client, kj01_staff, event_id).status_code == 201
    peek = client.get(f"/api/v1/admin/events/{event_id}/live", headers=kj02_staff["headers"])
    assert peek.status_code == 404
    assert peek.get_json()["code"] == "not_found"
    assert "push" not in peek.get_json()
    # The subdistrict's admin sees every committee.
    assert staff_view(client, admin, event_id)["push"]["url"].startswith("rtmp://")


def test_a_resident_never_gets_the_push_url(client, resident, kj01_staff, make_event, clock):
    event_id = make_event()
    enable(client, kj01_staff, event_id)

    for response in (
        client.get(f"/api/v1/admin/events/{event_id}/live", headers=resident["headers"]),
        enable(client, resident, event_id),
    ):
        assert response.status_code == 403
        assert response.get_json()["code"] == "forbidden"
    answer = watch(client, resident, event_id)
    assert answer.status_code == 200
    assert "push" not in answer.get_json()
    assert "livepush" not in answer.get_data(as_text=True)


def test_unknown_events_and_events_without_a_stream_are_not_found(client, resident, kj01_staff, make_event, clock):
    unknown = str(uuid.uuid4())
    for response in (
        enable(client, kj01_staff, unknown),
        client.get(f"/api/v1/admin/events/{unknown}/live", headers=kj01_staff["headers"]),
        watch(client, resident, unknown),
        beat(client, resident, unknown, "p1"),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "not_found"

    no_stream = make_event()
    for response in (
        client.get(f"/api/v1/admin/events/{no_stream}/live", headers=kj01_staff["headers"]),
        watch(client, resident, no_stream),
    ):
        assert response.status_code == 404
        assert response.get_json()["code"] == "live_not_available"


def test_a_draft_event_can_be_prepared_but_residents_cannot_see_it(client, resident, kj01_staff, make_event, clock):
    draft = make_event(status=EventStatus.DRAFT)

    assert enable(client, kj01_staff, draft).status_code == 201
    assert watch(client, resident, draft).status_code == 404


def test_a_cancelled_event_gets_no_stream(client, kj01_staff, make_event, clock):
    cancelled = make_event(status=EventStatus.CANCELLED)

    response = enable(client, kj01_staff, cancelled)

    assert response.status_code == 409
    assert response.get_json()["code"] == "live_event_unavailable"


def test_without_signing_keys_live_is_unavailable_not_unsigned(client, kj01_staff, make_event, settings, clock):
    settings.live_push_key = ""
    response = enable(client, kj01_staff, make_event())

    assert response.status_code == 503
    assert response.get_json()["code"] == "live_not_configured"


def test_production_uses_only_the_keys_it_is_given():
    base = {"LINLI_ENV": "production"}
    assert Settings.from_env(base).live_push_key == ""
    assert Settings.from_env(base).live_callback_secret == ""
    configured = Settings.from_env(
        {
            **base,
            "LIVE_PUSH_DOMAIN": "push.example.cn",
            "LIVE_PLAY_DOMAIN": "play.example.cn",
            "LIVE_PUSH_KEY": "pk",
            "LIVE_PLAY_KEY": "yk",
            "LIVE_APP_NAME": "community",
            "LIVE_CALLBACK_SECRET": "cb",
            "LIVE_REPLAY_BASE_URL": "https://vod.example.cn/r/",
        }
    )
    assert (configured.live_push_domain, configured.live_play_domain) == ("push.example.cn", "play.example.cn")
    assert (configured.live_push_key, configured.live_play_key, configured.live_callback_secret) == ("pk", "yk", "cb")
    assert (configured.live_app_name, configured.live_replay_base_url) == ("community", "https://vod.example.cn/r")
    assert Settings.from_env({}).live_push_key == PUSH_KEY


# ----------------------------------------------------------------------------------------------------
# The stream server's callbacks
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_the_whole_life_of_a_stream_as_residents_see_it(client, resident, kj01_staff, on_air, clock):
    event_id = on_air.event_id

    scheduled = watch(client, resident, event_id).get_json()
    assert scheduled["status"] == "scheduled"
    assert datetime.fromisoformat(scheduled["starts_at"]) == T0 + timedelta(minutes=30)
    assert scheduled["starts_at"].endswith("+08:00")
    assert (scheduled["play"], scheduled["replays"], scheduled["replay_available"]) == (None, [], False)

    clock.advance(25 * 60)
    answer = on_air.publish()
    assert answer.get_json() == {"code": 0, "msg": "OK"}

    live = watch(client, resident, event_id).get_json()
    assert live["status"] == "live"
    assert datetime.fromisoformat(live["started_at"]) == clock.now
    play = live["play"]
    assert play["hls"].startswith(f"https://liveplay.linli.localhost/live/{on_air.stream}.m3u8?")
    assert play["flv"].startswith(f"https://liveplay.linli.localhost/live/{on_air.stream}.flv?")
    query = parse_qs(urlsplit(play["flv"]).query)
    assert query["txSecret"][0] == md5(PLAY_KEY + on_air.stream + query["txTime"][0])
    assert int(query["txTime"][0], 16) == int((clock.now + timedelta(hours=2)).timestamp())
    assert PUSH_KEY not in str(live) and "livepush" not in str(live)

    clock.advance(90 * 60)
    assert on_air.unpublish().status_code == 200
    ended = watch(client, resident, event_id).get_json()
    assert ended["status"] == "ended"
    assert (ended["play"], ended["replay_available"]) == (None, False)
    assert datetime.fromisoformat(ended["ended_at"]) == clock.now

    clock.advance(20)
    assert on_air.dvr().status_code == 200
    replay = watch(client, resident, event_id).get_json()
    assert replay["status"] == "replay_ready"
    assert replay["play"] is None
    assert replay["replay_available"] is True
    [recording] = replay["replays"]
    assert recording["duration_seconds"] == 90 * 60
    parts = urlsplit(recording["url"])
    assert (parts.scheme, parts.netloc) == ("https", "liveplay.linli.localhost")
    assert parts.path == f"/replays/live/{on_air.stream}.1764327605000.flv"
    assert parse_qs(parts.query)["sign"][0] == md5(PLAY_KEY + parts.path + parse_qs(parts.query)["t"][0])

    staff = staff_view(client, kj01_staff, event_id)
    assert staff["status"] == "replay_ready"
    assert staff["publish_count"] == 1
    assert [r["id"] for r in staff["replays"]] == [recording["id"]]


def test_callbacks_without_the_secret_are_refused(client, on_air):
    for secret in (None, "", "linli-dev-live-callback-secreT", "guess"):
        response = srs(client, "on_publish", on_air.stream, secret=secret, param=on_air.param)
        assert response.status_code == 403
        assert response.get_json()["code"] == "live_callback_forbidden"
    # Nor does a body the secret did not come with get parsed: still a 403, not a 422.
    assert client.post("/api/v1/live/callbacks", json={"nonsense": True}).status_code == 403
    assert session_row(on_air.event_id).status == LiveStatus.SCHEDULED

    via_header = client.post(
        "/api/v1/live/callbacks",
        json={"action": "on_publish", "app": "live", "stream": on_air.stream, "param": on_air.param},
        headers={"X-Linli-Callback-Secret": SECRET},
    )
    assert via_header.status_code == 200
    assert session_row(on_air.event_id).status == LiveStatus.LIVE


def test_an_encoder_without_a_valid_push_url_cannot_go_on_air(client, kj01_staff, on_air, make_event, clock):
    stream = on_air.stream
    txsecret = parse_qs(on_air.param[1:])["txSecret"][0]
    tx_time = parse_qs(on_air.param[1:])["txTime"][0]
    later = format(int(tx_time, 16) + 86400, "X")
    other_event = make_event()
    other_param = push_param(enable(client, kj01_staff, other_event).get_json()["push"]["url"])

    cases = {
        "": "live_push_signature_invalid",
        f"?txSecret={txsecret}": "live_push_signature_invalid",
        f"?txSecret={txsecret}&txTime={later}": "live_push_signature_invalid",  # expiry pushed back
        f"?txSecret={'0' * 32}&txTime={tx_time}": "live_push_signature_invalid",  # forged
        other_param: "live_push_signature_invalid",  # another event's push URL
    }
    for param, code in cases.items():
        response = srs(client, "on_publish", stream, param=param)
        assert response.status_code == 403, param
        assert response.get_json()["code"] == code

    clock.advance(int(tx_time, 16) - T0.timestamp() + 1)  # past the push URL's expiry
    expired = srs(client, "on_publish", stream, param=on_air.param)
    assert expired.status_code == 403
    assert expired.get_json()["code"] == "live_push_url_expired"
    row = session_row(on_air.event_id)
    assert (row.status, row.publish_count) == (LiveStatus.SCHEDULED, 0)

    # Staff fetch a fresh push URL, and the encoder goes on air with it.
    fresh = push_param(staff_view(client, kj01_staff, on_air.event_id)["push"]["url"])
    assert srs(client, "on_publish", stream, param=fresh).status_code == 200
    assert session_row(on_air.event_id).status == LiveStatus.LIVE


def test_the_push_signature_may_also_come_in_the_tc_url(client, on_air):
    tc_url = f"rtmp://livepush.linli.localhost/live{on_air.param}"

    assert srs(client, "on_publish", on_air.stream, tcUrl=tc_url).status_code == 200
    assert session_row(on_air.event_id).status == LiveStatus.LIVE


def test_unknown_streams_are_refused(client, on_air):
    for action in ("on_publish", "on_unpublish", "on_dvr"):
        response = srs(client, action, "lv" + "0" * 24, param=on_air.param, file="./objs/nginx/html/live/x.flv")
        assert response.status_code == 404
        assert response.get_json()["code"] == "live_stream_unknown"
    other_app = srs(client, "on_publish", on_air.stream, app="other", param=on_air.param)
    assert other_app.status_code == 404
    assert session_row(on_air.event_id).status == LiveStatus.SCHEDULED


def test_hooks_the_service_does_not_track_are_allowed(client, on_air):
    for action in ("on_connect", "on_play", "on_stop", "on_close"):
        response = srs(client, action, on_air.stream)
        assert response.status_code == 200
        assert response.get_json()["code"] == 0


def test_repeated_callbacks_change_nothing(client, on_air, clock):
    on_air.publish(client_id=1985)  # SRS 4 sends a number, SRS 5 a string
    on_air.publish(client_id="1985")
    row = session_row(on_air.event_id)
    assert (row.status, row.publish_count) == (LiveStatus.LIVE, 1)

    clock.advance(600)
    assert on_air.unpublish().status_code == 200
    ended_at = session_row(on_air.event_id).ended_at
    clock.advance(5)
    assert on_air.unpublish().status_code == 200
    assert session_row(on_air.event_id).ended_at == ended_at

    assert on_air.dvr().status_code == 200
    assert on_air.dvr().status_code == 200
    assert db.session.scalar(select(func.count()).select_from(ReplayFile)) == 1
    row = session_row(on_air.event_id)
    assert (row.status, row.publish_count) == (LiveStatus.REPLAY_READY, 1)


def test_an_encoder_that_reconnects_is_live_again(client, resident, on_air, clock):
    on_air.publish(client_id="c1")
    first_start = session_row(on_air.event_id).started_at
    clock.advance(300)
    on_air.unpublish(client_id="c1")
    assert watch(client, resident, on_air.event_id).get_json()["status"] == "ended"

    clock.advance(15)
    on_air.publish(client_id="c2")
    row = session_row(on_air.event_id)
    assert (row.status, row.publish_count, row.started_at, row.ended_at) == (LiveStatus.LIVE, 2, first_start, None)
    assert watch(client, resident, on_air.event_id).get_json()["play"] is not None

    # The network dropped without an unpublish; the encoder comes back on a new connection, and the
    # old connection's unpublish arrives late: the stream stays on air.
    clock.advance(60)
    on_air.publish(client_id="c3")
    on_air.unpublish(client_id="c2")
    row = session_row(on_air.event_id)
    assert (row.status, row.publish_count) == (LiveStatus.LIVE, 3)

    on_air.unpublish(client_id="c3")
    assert session_row(on_air.event_id).status == LiveStatus.ENDED


def test_a_recording_of_an_earlier_part_makes_the_end_a_replay(client, resident, on_air, clock):
    on_air.publish(client_id="c1")
    clock.advance(600)
    on_air.dvr(name=f"{on_air.stream}.1.flv")  # a segment closed while still on air
    assert session_row(on_air.event_id).status == LiveStatus.LIVE

    on_air.unpublish(client_id="c1")
    answer = watch(client, resident, on_air.event_id).get_json()
    assert answer["status"] == "replay_ready"
    assert len(answer["replays"]) == 1


def test_a_recording_with_a_strange_file_name_is_refused(client, on_air):
    on_air.publish()
    on_air.unpublish()
    response = srs(client, "on_dvr", on_air.stream, file="./objs/nginx/html/live/../../etc/ passwd")

    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]
    assert session_row(on_air.event_id).status == LiveStatus.ENDED


def test_a_cancelled_event_cannot_go_on_air(client, on_air):
    event = db.session.get(Event, uuid.UUID(on_air.event_id))
    event.status = EventStatus.CANCELLED
    db.session.commit()

    response = srs(client, "on_publish", on_air.stream, param=on_air.param)

    assert response.status_code == 409
    assert response.get_json()["code"] == "live_event_unavailable"


# ----------------------------------------------------------------------------------------------------
# Viewing: heartbeats and the figures staff see
# ----------------------------------------------------------------------------------------------------


def person(client, name):
    tokens = wechat_login(client, f"{name}#{uuid.uuid4().hex[:6]}")
    return {**tokens, "headers": bearer(tokens["access_token"])}


def watch_for(client, clock, viewer, event_id, play_id, seconds, mode="live", every=30):
    """Heartbeats every `every` seconds for `seconds`, then stop."""
    assert beat(client, viewer, event_id, play_id, mode).status_code == 200
    for _ in range(round(seconds / every)):
        clock.advance(every)
        response = beat(client, viewer, event_id, play_id, mode)
        assert response.status_code == 200, response.get_json()


@pytest.mark.smoke
def test_heartbeats_become_unique_viewers_peak_concurrency_and_minutes(client, kj01_staff, on_air, clock, settings):
    settings.live_heartbeat_rate_limit_per_minute = 1000
    event_id = on_air.event_id
    on_air.publish()
    wang, li, zhao = person(client, "wangwu"), person(client, "lisi"), person(client, "zhaoliu")

    # 19:00:05 王五 watches ten minutes; from 19:02:05 李四 watches three; 赵六 four at the end.
    start = clock.now
    watch_for(client, clock, wang, event_id, "wang-phone", 120)
    watch_for(client, clock, li, event_id, "li-phone", 180)
    clock.now = start + timedelta(minutes=2)
    watch_for(client, clock, wang, event_id, "wang-phone", 480)
    clock.now = start + timedelta(minutes=6)
    watch_for(client, clock, zhao, event_id, "zhao-phone", 240)

    live = staff_view(client, kj01_staff, event_id)["figures"]["live"]
    assert live["unique_viewers"] == 3
    assert live["peak_concurrent_viewers"] == 2
    assert live["watch_seconds"] == 600 + 180 + 240
    assert live["watch_minutes"] == 17.0
    assert datetime.fromisoformat(live["peak_at"]) == datetime(2026, 11, 28, 19, 2, tzinfo=UTC)

    # Afterwards, two of them rewatch: replay figures are kept apart from live ones.
    on_air.unpublish()
    on_air.dvr()
    clock.advance(3600)
    watch_for(client, clock, li, event_id, "li-replay", 300, mode="replay")
    clock.advance(60)
    watch_for(client, clock, zhao, event_id, "zhao-replay", 60, mode="replay")

    figures = staff_view(client, kj01_staff, event_id)["figures"]
    assert figures["live"] == live
    assert figures["replay"]["unique_viewers"] == 2
    assert figures["replay"]["peak_concurrent_viewers"] == 1
    assert figures["replay"]["watch_seconds"] == 360
    assert figures["replay"]["watch_minutes"] == 6.0


def test_heartbeats_faster_than_the_clock_count_no_faster(client, kj01_staff, on_air, clock, settings, resident):
    settings.live_heartbeat_rate_limit_per_minute = 1000
    on_air.publish()
    event_id = on_air.event_id

    # Forty heartbeats in twenty seconds count twenty seconds.
    watch_for(client, clock, resident, event_id, "tight-loop", 20, every=0.5)
    viewing = db.session.scalar(select(ViewingSession).where(ViewingSession.play_id == "tight-loop"))
    assert viewing.watched_seconds == 20

    # Two phones at once for a minute: one person, one minute of viewing.
    clock.now = datetime(2026, 11, 28, 19, 5, 0, tzinfo=UTC)
    beat(client, resident, event_id, "phone-a")
    beat(client, resident, event_id, "phone-b")
    clock.advance(30)
    beat(client, resident, event_id, "phone-a")
    beat(client, resident, event_id, "phone-b")
    clock.advance(30)
    beat(client, resident, event_id, "phone-a")
    beat(client, resident, event_id, "phone-b")

    # Silent for an hour, then one heartbeat: at most a minute counted.
    clock.now = T0 + timedelta(minutes=20)
    beat(client, resident, event_id, "sleepy")
    clock.advance(3600)
    counted = beat(client, resident, event_id, "sleepy").get_json()
    assert counted["counted_seconds"] == 60

    live = staff_view(client, kj01_staff, event_id)["figures"]["live"]
    assert live["unique_viewers"] == 1
    assert live["peak_concurrent_viewers"] == 1
    assert live["watch_seconds"] == 20 + 60 + 60


def test_heartbeats_too_fast_for_the_rate_limit_are_refused(client, on_air, clock, settings, resident):
    settings.live_heartbeat_rate_limit_per_minute = 3
    on_air.publish()

    statuses = [beat(client, resident, on_air.event_id, "p").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_a_heartbeat_answers_what_it_counted(client, on_air, clock, resident):
    on_air.publish()
    first = beat(client, resident, on_air.event_id, "p-1", position_seconds=0).get_json()
    clock.advance(30)
    second = beat(client, resident, on_air.event_id, "p-1", position_seconds=30).get_json()

    assert first == {"counted_seconds": 0, "watched_seconds": 0, "status": "live", "next_heartbeat_in": 30}
    assert (second["counted_seconds"], second["watched_seconds"]) == (30, 30)
    viewing = db.session.scalar(select(ViewingSession).where(ViewingSession.play_id == "p-1"))
    assert viewing.position_seconds == 30


def test_nothing_to_watch_means_no_heartbeat(client, on_air, clock, resident):
    live = beat(client, resident, on_air.event_id, "p")
    assert live.status_code == 409
    assert live.get_json()["code"] == "live_not_on_air"

    on_air.publish()
    replay = beat(client, resident, on_air.event_id, "p", mode="replay")
    assert replay.status_code == 409
    assert replay.get_json()["code"] == "replay_not_available"

    on_air.unpublish()
    assert beat(client, resident, on_air.event_id, "p").get_json()["code"] == "live_not_on_air"
    assert db.session.scalar(select(func.count()).select_from(ViewingSession)) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"mode": "live"}, "play_id"),
        ({"play_id": "p", "mode": "vr"}, "mode"),
        ({"play_id": "has space", "mode": "live"}, "play_id"),
        ({"play_id": "x" * 65, "mode": "live"}, "play_id"),
        ({"play_id": "p", "mode": "live", "position_seconds": -1}, "position_seconds"),
    ],
)
def test_a_bad_heartbeat_names_the_field(client, on_air, clock, resident, body, field):
    on_air.publish()
    response = client.post(f"/api/v1/events/{on_air.event_id}/live/heartbeats", json=body, headers=resident["headers"])

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_watching_needs_a_login(client, on_air):
    assert client.get(f"/api/v1/events/{on_air.event_id}/live").status_code == 401
    assert client.post(f"/api/v1/events/{on_air.event_id}/live/heartbeats", json={}).status_code == 401


# ----------------------------------------------------------------------------------------------------
# A stream server that died without its on_unpublish
# ----------------------------------------------------------------------------------------------------


@pytest.mark.smoke
def test_a_stream_whose_server_never_said_it_ended_is_ended_two_hours_after_the_event(
    client, resident, on_air, clock, app
):
    from api.live import services as live_services
    from api.live.tasks import end_abandoned

    on_air.publish()  # … and then the stream server crashes: no on_unpublish ever comes
    event_ends = T0 + timedelta(minutes=30, hours=2)

    assert live_services.end_abandoned(7200, event_ends + timedelta(minutes=90)) == 0  # may be running late
    db.session.commit()
    assert session_row(on_air.event_id).status == LiveStatus.LIVE

    assert live_services.end_abandoned(7200, event_ends + timedelta(hours=2, minutes=1)) == 1
    db.session.commit()
    assert session_row(on_air.event_id).status == LiveStatus.ENDED
    assert watch(client, resident, on_air.event_id).get_json()["status"] == "ended"

    # The beat task finds nothing left to end; an encoder still pushing goes live again on its next publish.
    with app.app_context():
        assert end_abandoned.apply().get() == 0
    on_air.publish(client_id="after-restart")
    assert session_row(on_air.event_id).status == LiveStatus.LIVE


def test_an_abandoned_stream_with_a_recording_shows_its_replay(client, resident, on_air, clock):
    from api.live import services as live_services

    on_air.publish()
    on_air.dvr()
    assert live_services.end_abandoned(7200, T0 + timedelta(hours=5)) == 1
    db.session.commit()
    answer = watch(client, resident, on_air.event_id).get_json()
    assert answer["status"] == "replay_ready" and len(answer["replays"]) == 1
