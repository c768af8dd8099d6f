"""What eldercare tells the domains above it, which subscribe in their manifests (eldercare imports none
of them). Each signal is sent inside the unit of work of the change it reports, so what a receiver
writes commits or rolls back with it.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

elder_moved = _signals.signal(
    "eldercare.elder-moved",
    doc="An elder's home changed: `send(elder, room_id=…)`. Devices watching the elder move with them.",
)
consent_withdrawn = _signals.signal(
    "eldercare.consent-withdrawn",
    doc=(
        "A monitoring consent was withdrawn: `send(elder)`. Whatever no remaining consent covers stops "
        "watching the elder at once; a receiver returns how many of its things it let go (devices unbound)."
    ),
)
