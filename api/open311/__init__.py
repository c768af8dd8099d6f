"""Open311 GeoReport v2: the city's standard face of incidents (services, requests, tokens; JSON and XML),
outside the OpenAPI document."""

from api.platform import Domain

domain = Domain(
    name="open311",
    description="Open311 GeoReport v2 over incidents",
    routes="api.open311.routes",
    models=("api.open311.models",),
    errors="api.open311.errors:ERRORS",
)
