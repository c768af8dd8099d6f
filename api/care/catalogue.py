"""Staff's side of the catalogue: providers and their workers, services, subsidy rules, and an elder's care
profile (subsidy flags, 长护险 level and weekly quota, the service code, whether staff vouch for visits).

Providers, services and rules are placed in an area (`area_path`, "" for the whole subdistrict) and scoped by
`api.scope` like everything else; a committee's staff create them in their committee.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select

from api import scope
from api.accounts.models import Role, User
from api.care import pricing
from api.care.models import CareProfile, CareProvider, CareService, CareWorker, SubsidyRule
from api.db import db, new_code
from api.eldercare.models import Elder
from api.errors import ApiError, NotFound


def _placed(staff: User, area_id: uuid.UUID | None) -> str:
    if area_id is None:
        scope.ensure_may_leave_unplaced(staff, "area_id")
        return ""
    return scope.area_for(staff, area_id).path


def _covering(staff: User, paths: list[str] | None, field: str) -> list[str]:
    """Committee paths a provider or service serves: each must be within the staff member's reach."""
    result = []
    for path in paths or []:
        if not isinstance(path, str) or not path.startswith("/") or not path.endswith("/"):
            raise ApiError("validation_failed", errors={field: [f"an area path such as /KJ/KJ01/, not {path!r}"]})
        if not scope.sees(staff, path):
            raise ApiError("validation_failed", errors={field: [f"{path} is outside your area"]})
        result.append(path)
    return result


# Providers and workers ------------------------------------------------------------------------


def staff_providers(staff: User) -> Select[tuple[CareProvider]]:
    return scope.visible(staff, CareProvider)


def staff_provider(staff: User, provider_id: uuid.UUID, *, field: str | None = None) -> CareProvider:
    return scope.ensure_visible(staff, db.session.get(CareProvider, provider_id), field=field)


def create_provider(staff: User, values: dict[str, Any]) -> CareProvider:
    values = dict(values)
    area_path = _placed(staff, values.pop("area_id", None))
    values["service_area_paths"] = _covering(staff, values.get("service_area_paths"), "service_area_paths")
    if db.session.scalar(select(CareProvider.id).where(CareProvider.name == values["name"])) is not None:
        raise ApiError("validation_failed", errors={"name": ["a provider of this name exists"]})
    provider = CareProvider(area_path=area_path, **values)
    db.session.add(provider)
    db.session.flush()
    return provider


def update_provider(staff: User, provider_id: uuid.UUID, changes: dict[str, Any]) -> CareProvider:
    provider = staff_provider(staff, provider_id)
    if "service_area_paths" in changes:
        changes = {
            **changes,
            "service_area_paths": _covering(staff, changes["service_area_paths"], "service_area_paths"),
        }
    for key, value in changes.items():
        setattr(provider, key, value)
    return provider


def add_worker(staff: User, provider_id: uuid.UUID, values: dict[str, Any]) -> CareWorker:
    """A user account becomes a worker of the provider (again, if they had left)."""
    provider = staff_provider(staff, provider_id)
    user = db.session.get(User, values["user_id"])
    if user is None or not user.is_active:
        raise ApiError("validation_failed", errors={"user_id": ["no such user"]})
    worker = db.session.scalar(
        select(CareWorker).where(CareWorker.provider_id == provider.id, CareWorker.user_id == user.id)
    )
    if worker is None:
        worker = CareWorker(provider=provider, user=user, name=values["name"], skills=values.get("skills") or [])
        db.session.add(worker)
    else:
        worker.name = values["name"]
        worker.skills = values.get("skills") or worker.skills
        worker.is_active = True
    db.session.flush()
    return worker


def provider_workers(provider: CareProvider) -> list[CareWorker]:
    return list(
        db.session.scalars(select(CareWorker).where(CareWorker.provider_id == provider.id).order_by(CareWorker.name))
    )


def remove_worker(staff: User, provider_id: uuid.UUID, worker_id: uuid.UUID) -> CareWorker:
    provider = staff_provider(staff, provider_id)
    worker = db.session.get(CareWorker, worker_id)
    if worker is None or worker.provider_id != provider.id:
        raise NotFound()
    worker.is_active = False
    return worker


def workers_of(user: User) -> list[CareWorker]:
    """The providers `user` works for (active rows only)."""
    return list(
        db.session.scalars(select(CareWorker).where(CareWorker.user_id == user.id, CareWorker.is_active.is_(True)))
    )


# Services ------------------------------------------------------------------------------------


def staff_services(staff: User) -> Select[tuple[CareService]]:
    return scope.visible(staff, CareService)


def staff_service(staff: User, service_id: uuid.UUID) -> CareService:
    return scope.ensure_visible(staff, db.session.get(CareService, service_id))


def _check_service(values: dict[str, Any]) -> None:
    if (values.get("cutoff_days_before") is None) != (not values.get("cutoff_local_time")):
        raise ApiError(
            "validation_failed", errors={"cutoff_local_time": ["give both cutoff_days_before and cutoff_local_time"]}
        )


def create_service(staff: User, values: dict[str, Any]) -> CareService:
    values = dict(values)
    area_path = _placed(staff, values.pop("area_id", None))
    values["covers_area_paths"] = _covering(staff, values.get("covers_area_paths"), "covers_area_paths")
    _check_service(values)
    if db.session.scalar(select(CareService.id).where(CareService.code == values["code"])) is not None:
        raise ApiError("validation_failed", errors={"code": ["a service with this code exists"]})
    if values.get("provider_id") is not None:
        staff_provider(staff, values["provider_id"], field="provider_id")
    service = CareService(area_path=area_path, **values)
    db.session.add(service)
    db.session.flush()
    return service


def update_service(staff: User, service_id: uuid.UUID, changes: dict[str, Any]) -> CareService:
    service = staff_service(staff, service_id)
    if "covers_area_paths" in changes:
        changes = {**changes, "covers_area_paths": _covering(staff, changes["covers_area_paths"], "covers_area_paths")}
    if changes.get("provider_id") is not None:
        staff_provider(staff, changes["provider_id"], field="provider_id")
    merged = {
        "cutoff_days_before": changes.get("cutoff_days_before", service.cutoff_days_before),
        "cutoff_local_time": changes.get("cutoff_local_time", service.cutoff_local_time),
    }
    _check_service(merged)
    for key, value in changes.items():
        setattr(service, key, value)
    return service


# Subsidy rules -------------------------------------------------------------------------------


def staff_rules(staff: User) -> Select[tuple[SubsidyRule]]:
    return scope.visible(staff, SubsidyRule)


def create_rule(staff: User, values: dict[str, Any]) -> SubsidyRule:
    values = dict(values)
    area_path = _placed(staff, values.pop("area_id", None))
    if (
        values.get("min_age") is not None
        and values.get("max_age") is not None
        and values["min_age"] > values["max_age"]
    ):
        raise ApiError("validation_failed", errors={"max_age": ["below min_age"]})
    rule = SubsidyRule(area_path=area_path, **values)
    db.session.add(rule)
    db.session.flush()
    return rule


# Care profiles -------------------------------------------------------------------------------


def staff_profile(staff: User, elder_id: uuid.UUID) -> CareProfile:
    elder = scope.ensure_visible(staff, db.session.get(Elder, elder_id))
    profile = pricing.profile_of(elder)
    assert profile is not None
    return profile


def update_profile(staff: User, elder_id: uuid.UUID, changes: dict[str, Any]) -> CareProfile:
    profile = staff_profile(staff, elder_id)
    renew = changes.pop("renew_code", False)
    for key, value in changes.items():
        setattr(profile, key, value)
    if renew:
        profile.service_code = new_code(pricing.SERVICE_CODE_LENGTH)
    return profile


def service_code_for(user: User, elder_id: uuid.UUID) -> CareProfile:
    """The elder's service code, for the elder and their confirmed family only (a worker must hear it from them)."""
    elder = db.session.get(Elder, elder_id)
    from api.care.services import channel_for

    if elder is None or channel_for(user, elder) not in ("self", "family"):
        raise ApiError("care_not_family")
    profile = pricing.profile_of(elder)
    assert profile is not None
    return profile


def is_staff(user: User) -> bool:
    return user.has_role(Role.STAFF, Role.ADMIN)
