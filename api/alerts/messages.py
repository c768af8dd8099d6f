"""Message kinds of the alerts domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Urgency

MESSAGES: tuple[MessageKind, ...] = (
    # `address` is the short form that finds the door (estate, building, room: the template slots are 20
    # characters); the inbox body, which has room, says `full_address`.
    MessageKind(
        kind="device_alert",
        description="A device in an elder's home raised an alarm (family and, on escalation, staff)",
        title="{elder_name}家{device_type}报警",
        body="{full_address}的{device_type}于{occurred_at}发出{alert_type}，请尽快确认。",
        page="pages/alerts/detail?id={alert_id}",
        urgency=Urgency.CRITICAL,
        official_account=Template(
            "linli-oa-device-alert",
            {
                "thing1": "{elder_name}",
                "thing2": "{device_type}",
                "thing3": "{alert_type}",
                "time4": "{occurred_at}",
                "thing5": "{address}",
            },
            addresses=frozenset({"thing5"}),
        ),
        subscribe=Template(
            "linli-sub-device-alert",
            {"thing1": "{device_type}", "thing2": "{alert_type}", "time3": "{occurred_at}", "thing4": "{address}"},
            addresses=frozenset({"thing4"}),
        ),
    ),
)
