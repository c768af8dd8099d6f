"""How the device registry follows what happens to elders (eldercare's signals, subscribed in the manifest):
devices move home with their elder, and stop watching an elder whose consent no longer covers them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select, update

from api.db import db
from api.devices.models import Device
from api.eldercare.models import Elder
from api.eldercare.services import has_consent


def follow_elder_home(elder: Elder, *, room_id: uuid.UUID, **_: Any) -> None:
    """The devices bound to the elder are installed in the new home."""
    db.session.execute(update(Device).where(Device.elder_id == elder.id).values(room_id=room_id))


def unbind_without_consent(elder: Elder, **_: Any) -> int:
    """Devices no consent in force covers are unbound from the elder: nothing may watch them without it,
    and their alerts stop reaching the family. Returns how many."""
    unbound = 0
    for device in db.session.scalars(select(Device).where(Device.elder_id == elder.id)):
        if not has_consent(elder.id, device.type):
            device.elder_id = None
            unbound += 1
    db.session.flush()
    return unbound
