"""The Official Account (公众号) side of a person: follow-and-bind codes, the follower's openid linked to
their user (so template messages reach families there), and what the Official Account pushes to us."""

from api.platform import Domain

domain = Domain(
    name="officialaccount",
    description="Official Account identity: follow-and-bind, the OA message push",
    routes="api.officialaccount.routes",
    models=("api.officialaccount.models",),
    errors="api.officialaccount.errors:ERRORS",
    personal_data="api.officialaccount.personal:personal_data",
)
