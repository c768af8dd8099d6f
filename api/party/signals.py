"""What the party domain tells other domains, and what it asks them — the seam with volunteers.

Working members registered with their community (在职党员报到) get service tasks through the volunteers
domain, and their service hours go back to their workplace branch each quarter; members' service hours also
earn points. Party imports no volunteers code: it sends these signals with plain values (user ids, times,
area paths, never party objects), and the volunteers domain connects receivers in its manifest.
Every signal is sent inside the unit of work of the change it reports. The volunteers domain, a floor above,
answers in `api.volunteers.party`; `registration_ended` has no receiver yet (a profile made on registration stays:
the hours are the member's).
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

registration_confirmed = _signals.signal(
    "party.registration-confirmed",
    doc=(
        "A branch confirmed a working member's registration with the community: `send('party', user_id=, "
        "registration_id=, name=, area_path=, org_name=)` (`area_path`: the community's area). From now on they "
        "may be given service tasks there."
    ),
)
registration_ended = _signals.signal(
    "party.registration-ended",
    doc=(
        "A confirmed registration ended (the member ended it, or their account was deleted): "
        "`send('party', user_id=, registration_id=)`. No more service tasks on its account."
    ),
)
service_hours_requested = _signals.signal(
    "party.service-hours-requested",
    doc=(
        "Party asks how much service some people did: `send('party', user_ids=[uuid, ...], since=datetime, "
        "until=datetime)` (UTC, `since` included, `until` not). A receiver returns `{user_id: minutes}` (an int "
        "per person it knows of; people it has nothing for may be left out); party adds up every receiver's "
        "answer. Used for the quarterly hours report of registered working members and for service-hours points."
    ),
)
