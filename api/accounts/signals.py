"""What accounts tells the domains above it, which subscribe in their manifests (accounts imports none of
them). Sent inside the unit of work of the change they report."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

household_request_decided = _signals.signal(
    "accounts.household-request-decided",
    doc=(
        "Staff approved or rejected a resident's request to bind to a flat: `send(request)` (its status says "
        "which; an approval has added the household membership). Notifications tell the resident; parking "
        "and other domains that hang on households may react."
    ),
)
logged_in = _signals.signal(
    "accounts.logged-in",
    doc=(
        "A person logged in with WeChat: `send(user)`. Privacy cancels an account deletion still in its "
        "cooling-off period (logging in again is how a person says they changed their mind)."
    ),
)
