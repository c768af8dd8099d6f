"""Devices: the registry of IoT devices in elders' homes (门磁, 烟感, 燃气, 电弧, SOS, 跌倒, 血压) — staff
create, bind, retire and bulk-import them; devices follow their elder home and stop watching without
consent (eldercare's signals)."""

from api.platform import Domain

domain = Domain(
    name="devices",
    description="the IoT device registry",
    routes="api.devices.routes",
    models=("api.devices.models",),
    errors="api.devices.errors:ERRORS",
    receivers=(
        ("api.eldercare.signals:elder_moved", "api.devices.receivers:follow_elder_home"),
        ("api.eldercare.signals:consent_withdrawn", "api.devices.receivers:unbind_without_consent"),
    ),
    seed="api.devices.seed:seed_demo",
)
