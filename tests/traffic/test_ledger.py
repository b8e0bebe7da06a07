"""The journey ledger: counts by user type and outcome, the journey budget, and what workers send the master."""

from __future__ import annotations

import pytest

from musicstore.traffic.ledger import Ledger


def run(ledger: Ledger, kind: str, outcome: str = "verified", **kwargs: object) -> bool:
    """Start and finish one journey if the ledger lets it start."""
    if not ledger.may_start(kind):
        return False
    ledger.start(kind)
    ledger.finish(kind, outcome, **kwargs)  # type: ignore[arg-type]
    return True


def test_counts_journeys_by_type_and_outcome_with_the_reasons_of_failures() -> None:
    ledger = Ledger()
    run(ledger, "http shopper", orders=1)
    run(ledger, "http shopper", "sold_out")
    run(ledger, "http shopper", "failed", reason="order MS-1: expected total 10.00, found 12.00")
    run(ledger, "admin")
    body = ledger.as_json()
    assert body["http shopper"]["started"] == 3
    assert (body["http shopper"]["verified"], body["http shopper"]["sold_out"], body["http shopper"]["failed"]) == (
        1,
        1,
        1,
    )
    assert body["http shopper"]["orders"] == 1
    assert body["http shopper"]["failures"] == [{"reason": "order MS-1: expected total 10.00, found 12.00", "count": 1}]
    assert ledger.failed() == 1 and ledger.finished == 4


def test_a_budget_stops_new_journeys_once_that_many_have_started() -> None:
    ledger = Ledger(budget=3)
    ledger.register("window shopper")
    assert [run(ledger, "window shopper") for _ in range(5)] == [True, True, True, False, False]
    assert ledger.spent


def test_a_budget_keeps_a_journey_for_every_type_that_has_not_run_yet() -> None:
    ledger = Ledger(budget=4)
    for kind in ("window shopper", "browser shopper", "admin"):
        ledger.register(kind)
    fast = [run(ledger, "window shopper") for _ in range(4)]
    assert fast == [True, True, False, False]  # two journeys are kept for the browser shopper and the admin
    assert run(ledger, "browser shopper") and run(ledger, "admin")
    assert ledger.started == 4 and ledger.spent


def test_the_budget_is_not_spent_while_a_journey_is_under_way() -> None:
    ledger = Ledger(budget=1)
    ledger.start("admin")
    assert not ledger.spent
    ledger.finish("admin", "interrupted")
    assert ledger.spent
    assert ledger.as_json()["admin"]["interrupted"] == 1


def test_what_workers_send_adds_up_on_the_master_and_is_sent_once() -> None:
    workers = [Ledger(), Ledger()]
    run(workers[0], "http shopper", orders=1)
    run(workers[1], "http shopper", "failed", reason="cart: pay: expected 201 or 409, got 503")
    run(workers[1], "admin")
    master = Ledger()
    for worker in workers:
        master.merge(worker.take_unsent())
        master.merge(worker.take_unsent())  # nothing new: adds nothing
    body = master.as_json()
    assert body["http shopper"]["started"] == 2 and body["http shopper"]["orders"] == 1
    assert body["http shopper"]["failures"][0]["reason"] == "cart: pay: expected 201 or 409, got 503"
    assert body["admin"]["verified"] == 1
    assert master.finished == 3


def test_an_unknown_outcome_is_refused() -> None:
    ledger = Ledger()
    ledger.start("admin")
    with pytest.raises(ValueError):
        ledger.finish("admin", "fine")


def test_a_type_whose_users_all_stopped_keeps_no_share_of_the_budget() -> None:
    ledger = Ledger(budget=3)
    for kind in ("window shopper", "admin"):
        ledger.register(kind)
    assert run(ledger, "window shopper") and run(ledger, "window shopper")
    assert not run(ledger, "window shopper")  # the last journey is kept for the admin
    ledger.leave("admin")  # e.g. its credentials were refused
    assert run(ledger, "window shopper")
    assert ledger.spent
