"""The stage history: the periodic job records changes only, once, even when two processes run it at once; the
GDPR export holds it, erase removes it, merge moves it."""

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from omnistore.clienteling import erasure, export, lifecycle, merging
from omnistore.clienteling.models import CustomerStageChange
from omnistore.core.extensions import db
from omnistore.customers.models import Customer
from omnistore.jobs import JOBS

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def changes():
    db.session.expire_all()
    return [
        (c.customer_id, c.from_stage, c.stage, c.since)
        for c in db.session.scalars(
            select(CustomerStageChange).order_by(CustomerStageChange.since, CustomerStageChange.customer_id)
        )
    ]


def test_the_job_records_each_change_once(make):
    store = make.location("HAM")
    jacket = make.variant()
    anna = make.customer("Anna")
    bo = make.customer("Bo")
    make.order(store, [(jacket, 1, store)], status="collected", customer=bo, placed_at=NOW - timedelta(days=100))

    assert str(lifecycle.record_stage_changes(NOW)) == "2 stage changes recorded"
    assert changes() == [(anna.id, None, "acquisition", NOW), (bo.id, None, "first_purchase", NOW)]
    assert lifecycle.record_stage_changes(NOW + timedelta(hours=1)).changes == 0  # nothing changed: nothing new

    later = NOW + timedelta(days=30)  # Bo silent 130 days: at risk; Anna bought
    make.order(store, [(jacket, 1, store)], status="collected", customer=anna, placed_at=later - timedelta(days=1))
    assert lifecycle.record_stage_changes(later).changes == 2
    assert changes()[2:] == [
        (anna.id, "acquisition", "first_purchase", later),
        (bo.id, "first_purchase", "at_risk", later),
    ]
    assert lifecycle.record_stage_changes(later).changes == 0
    assert [c.stage for c in lifecycle.stage_history(db.session, bo)] == ["first_purchase", "at_risk"]


def test_the_job_is_in_the_workers_list():
    [job] = [job for job in JOBS if job.name == "customers.stages"]
    assert job.run is lifecycle.record_stage_changes


def test_two_processes_at_once_record_each_change_once(app, make):
    db.session.add_all(Customer(first_name=f"Kunde{n}", email=f"k{n}@example.test") for n in range(3000))
    db.session.commit()
    reports, errors = [], []
    start = threading.Barrier(4)

    def run():
        with app.app_context():
            try:
                start.wait()
                reports.append(lifecycle.record_stage_changes(NOW))
            except Exception as error:  # noqa: BLE001
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(r.changes for r in reports) == [0, 0, 0, 3000]
    assert db.session.scalar(select(func.count(func.distinct(CustomerStageChange.customer_id)))) == 3000
    assert db.session.scalar(select(func.count()).select_from(CustomerStageChange)) == 3000


def test_export_holds_the_history_erase_removes_it_merge_moves_it(make):
    store = make.location("HAM")
    manager = make.staff("manager", store)
    jacket = make.variant()
    juergen = make.customer("Jürgen", preferred_location_id=store.id)
    twin = make.customer("Jürgen", "Zwilling", preferred_location_id=store.id)
    make.order(store, [(jacket, 1, store)], status="collected", customer=twin, placed_at=NOW - timedelta(days=1))
    lifecycle.record_stage_changes(NOW)

    data = export.export_data(juergen, staff=manager)
    assert data["lifecycle_stages"] == [{"stage": "acquisition", "from_stage": None, "since": NOW.isoformat()}]

    record = merging.merge_customers(juergen, twin, staff=manager)
    assert record.moved["stage_history"] == 1
    assert {c[0] for c in changes()} == {juergen.id}
    assert [s["stage"] for s in export.export_data(juergen, staff=manager)["lifecycle_stages"]] == [
        "acquisition",
        "first_purchase",
    ]

    erasure.erase_customer(db.session.get(type(juergen), juergen.id), staff=manager, confirmation="ERASE")
    assert changes() == []
