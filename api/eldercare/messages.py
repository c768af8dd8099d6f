"""Message kinds of the eldercare domain: the inbox text, the page each opens and the WeChat templates
(see `api.notifications.catalogue`); collected from the domain's manifest by `create_app`."""

from __future__ import annotations

from api.notifications.catalogue import MessageKind, Template
from api.notifications.models import Channel

MESSAGES: tuple[MessageKind, ...] = (
    # Eldercare (api/eldercare): registrations and family bindings.
    MessageKind(
        kind="elder_registration_decided",
        description="Staff approved or rejected an elder a resident registered",
        title="老人登记审核{result}",
        body="您登记的老人{elder_name}审核{result}。{reason}",
        page="pages/elders/index",
        subscribe=Template(
            "linli-sub-elder-registration",
            {"thing1": "{elder_name}", "phrase2": "{result}", "time3": "{decided_at}", "thing4": "{reason}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="family_binding_requested",
        description="Someone used an elder's invite code and asks to be bound as family",
        title="{family_name}申请绑定为家属",
        body="{family_name}（{relation}）申请作为{elder_name}的家属接收设备报警，请确认或拒绝。",
        page="pages/elders/bindings?elder_id={elder_id}",
        subscribe=Template(
            "linli-sub-binding-requested",
            {"thing1": "{family_name}", "thing2": "{relation}", "time3": "{requested_at}"},
        ),
        channels=(Channel.SUBSCRIBE,),
    ),
    MessageKind(
        kind="family_binding_decided",
        description="A family binding request was confirmed or declined",
        title="家属绑定{result}",
        body="您作为{elder_name}家属的绑定申请{result}。{hint}",
        page="pages/me/elders",
        official_account=Template(
            "linli-oa-binding-decided",
            {"thing1": "{elder_name}", "phrase2": "{result}", "time3": "{decided_at}"},
        ),
        subscribe=Template(
            "linli-sub-binding-decided",
            {"thing1": "{elder_name}", "phrase2": "{result}", "time3": "{decided_at}"},
        ),
    ),
)
