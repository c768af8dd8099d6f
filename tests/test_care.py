"""Elderly service orders (api/care): a daughter orders for her father, workers grab and serve, the family confirms,
subsidies and her share appear on the order and in the provider's month; and what goes wrong."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from api.care import services
from api.care.models import CareService, Category, DeliveredBy, FundingTier, OrderStatus, Unit
from api.db import db
from api.errors import ApiError
from api.fields import LOCAL_TZ
from tests.factories import add_elder, add_family_member, bind_family


def _service(**overrides):
    values = {
        "code": "bath-home",
        "name": "上门助浴",
        "category": Category.BATHING,
        "unit": Unit.PER_VISIT,
        "list_price_fen": 8000,
        "duration_minutes": 60,
        "delivered_by": DeliveredBy.PROVIDER,
        "funding_tier": FundingTier.SHICHANG,
        "cutoff_days_before": 1,
        "cutoff_local_time": "16:00",
        **overrides,
    }
    service = CareService(**values)
    db.session.add(service)
    db.session.flush()
    return service


@pytest.mark.smoke
def test_place_order_without_a_request_records_who_ordered_for_whom(app, world):
    father = add_elder(world.room("KJ01/101"), "李老伯")
    daughter = add_family_member("李女儿")
    bind_family(father, daughter)
    stranger = add_family_member("陌生人")
    service = _service()
    db.session.flush()
    start = (datetime.now(LOCAL_TZ) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)

    order = services.place_order(elder_id=father.id, service_id=service.id, window_start=start, ordered_by=daughter)

    assert order.status == OrderStatus.PENDING_DISPATCH
    assert order.channel == "family" and order.ordered_by_id == daughter.id and order.elder_id == father.id
    assert order.list_price_fen == 8000 and order.self_pay_fen == 8000
    with pytest.raises(ApiError) as refused:
        services.place_order(elder_id=father.id, service_id=service.id, window_start=start, ordered_by=stranger)
    assert refused.value.code == "care_not_family"
    too_late = datetime.now(LOCAL_TZ).replace(hour=23, minute=0) + timedelta(days=1)
    if datetime.now(LOCAL_TZ).hour >= 16:
        with pytest.raises(ApiError) as late:
            services.place_order(elder_id=father.id, service_id=service.id, window_start=too_late, ordered_by=daughter)
        assert late.value.code == "care_after_cutoff"
