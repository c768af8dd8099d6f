"""Message kinds of the incidents domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="incident_status_changed",
        description="A report the resident filed or follows changed status (accepted, dispatched, resolved …)",
        title="您反映的问题{status_text}",
        body="您反映的「{category_name}」问题{status_text}。{note}",
        page="pages/incidents/detail?id={incident_id}",
        subscribe=Template(
            "linli-sub-incident-status",
            {"thing1": "{category_name}", "phrase2": "{status_text}", "time3": "{at}", "thing4": "{note}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="incident_overdue",
        description="A case in the supervisor's area passed its handling time limit (SLA escalation)",
        title="督办提醒：{category_name}已超时",
        body="「{category_name}」（{address}）应于{due_at_text}前办结，目前{status_text}，已{level_text}。",
        page="pages/admin/incidents/detail?id={incident_id}",
        subscribe=Template(
            "linli-sub-incident-overdue",
            {"thing1": "{category_name}", "thing2": "{address}", "time3": "{due_at}", "phrase4": "{level_text}"},
            addresses=frozenset({"thing2"}),
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
)
