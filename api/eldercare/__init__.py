"""Eldercare (智慧养老): elders, their monitoring consent, and the families bound to them (invites,
confirmation, contact order). Tells the domains above it when an elder moves or a consent is withdrawn
(`api.eldercare.signals`)."""

from api.platform import Domain

domain = Domain(
    name="eldercare",
    description="elders, monitoring consent, family bindings",
    routes="api.eldercare.routes",
    models=("api.eldercare.models",),
    errors="api.eldercare.errors:ERRORS",
    messages="api.eldercare.messages:MESSAGES",
    seed="api.eldercare.seed:seed_demo",
    personal_data="api.eldercare.personal:personal_data",
)
