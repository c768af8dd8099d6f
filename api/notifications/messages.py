"""Message kinds of the notifications domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    MessageKind(
        kind="household_request_decided",
        description="A resident's request to bind to a flat was approved or rejected",
        title="房屋绑定审核{result}",
        body="您申请绑定的{address}审核{result}。{reason}",
        page="pages/me/households",
        subscribe=Template(
            "linli-sub-household-decided",
            {"thing1": "{address}", "phrase2": "{result}", "time3": "{decided_at}", "thing4": "{reason}"},
            addresses=frozenset({"thing1"}),
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="notice",
        description="A general notice from the subdistrict to one person",
        title="{title}",
        body="{body}",
        page="pages/messages/index",
        subscribe=Template("linli-sub-notice", {"thing1": "{title}", "thing2": "{body}", "time3": "{sent_at}"}),
        channels=(Channel.SUBSCRIBE,),
    ),
)
