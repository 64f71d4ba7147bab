"""The day's Claude budget on a real Redis: reservations, settlement, expiry after a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date

import pytest

from paperboy.budget import Budget, Call
from paperboy.store import Store

from .conftest import ROOT, TEST_REDIS_URL

DAY = date(2025, 6, 3)


def call(*judged: str, usd: float = 0.001, via: str = "sync") -> Call:
    return Call(at="", model="m", via=via, papers=len(judged), judged=list(judged), usd=usd)


def test_workers_racing_for_the_budget_never_overspend(store: Store) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(20)

    def reserve() -> None:
        budget = Budget(store)  # each worker its own, as each process has
        barrier.wait()
        results.append(budget.reserve(DAY, 0.01, 0.05) is not None)

    threads = [threading.Thread(target=reserve) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 5  # exactly what fits: nobody is refused for a race
    spend = Budget(store).spend(DAY)
    assert spend.held == pytest.approx(0.05) and spend.spent == 0 and spend.limit == 0.05


def test_settling_frees_what_a_call_did_not_spend_and_writes_the_ledger_once(
    store: Store,
) -> None:
    budget = Budget(store)
    hold = budget.reserve(DAY, 0.04, 0.05)
    assert hold is not None
    assert budget.reserve(DAY, 0.02, 0.05) is None  # held, so not free
    assert budget.settle(hold, 0.003, [call("a", "b", usd=0.003)])
    assert not budget.settle(hold, 0.003, [call("a", "b", usd=0.003)])  # a second time: nothing
    spend = budget.spend(DAY)
    assert (spend.held, spend.spent) == (0, pytest.approx(0.003))
    assert budget.day_cost(DAY)["calls"] == 1 and budget.day_cost(DAY)["judged"] == 2
    assert budget.judged_by(DAY)["a"] == {"via": "sync", "usd": pytest.approx(0.0015), "at": ""}
    assert budget.reserve(DAY, 0.02, 0.05) is not None  # what it did not spend is free again


CRASHING = """
import sys, time
from datetime import date
from paperboy.budget import Budget, Keeper
from paperboy.store import Store, connect
budget = Budget(Store(connect(sys.argv[1])), lease_seconds=0.2)
keeper = Keeper(budget, every=0.05)
with keeper.running():
    for _ in range(4):  # four calls in flight, each holding its worst case
        keeper.add(budget.reserve(date(2025, 6, 3), 0.01, 0.05, likely=0.002))
    print("holding", flush=True)
    time.sleep(60)
"""


def test_a_process_killed_with_calls_in_flight_frees_its_reservations_within_its_lease(
    store: Store,
) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CRASHING, TEST_REDIS_URL],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        budget = Budget(store)
        time.sleep(0.3)  # past the lease: the live process renews it
        assert budget.spend(DAY).held == pytest.approx(0.04)
        assert budget.reserve(DAY, 0.02, 0.05) is None
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    time.sleep(0.25)
    spend = budget.spend(DAY)
    # freed, and charged what the calls most likely cost: the API may have billed them
    assert spend.held == 0
    assert spend.spent == pytest.approx(0.008) and spend.unsettled == pytest.approx(0.008)
    assert budget.reserve(DAY, 0.04, 0.05) is not None


def test_a_reply_that_comes_after_its_reservation_expired_corrects_the_charge(
    store: Store,
) -> None:
    budget = Budget(store, lease_seconds=0.05)
    hold = budget.reserve(DAY, 0.01, 0.05, likely=0.004)
    assert hold is not None
    time.sleep(0.1)
    assert budget.spend(DAY).unsettled == pytest.approx(0.004)
    assert budget.settle(hold, 0.003, [call("a", usd=0.003)])
    spend = budget.spend(DAY)
    assert spend.spent == pytest.approx(0.003) and spend.unsettled == pytest.approx(0)


def test_the_budget_ran_out_keeps_the_largest_count(store: Store) -> None:
    budget = Budget(store)
    budget.ran_out(DAY, 40)
    budget.ran_out(DAY, 3)
    assert budget.spend(DAY).ran_out == 40


def test_home_tells_admins_what_claude_judged_and_flags_a_day_the_budget_ran_out(
    store: Store,
) -> None:
    from paperboy.home import admin_lines
    from paperboy.settings import Settings

    store.update_day(DAY, papers=[f"2506.{i:05d}" for i in range(10)])
    budget = Budget(store)
    hold = budget.reserve(DAY, 0.01, 0.05)
    assert hold is not None
    budget.settle(hold, 0.004, [call(*[f"2506.{i:05d}" for i in range(6)], usd=0.004)])
    budget.ran_out(DAY, 4)
    settings = Settings(_env_file=None, anthropic_api_key="sk-ant-x")  # type: ignore[call-arg]
    lines = admin_lines(settings, store)
    assert "every kept paper within $0.10 a day" in lines[2]
    (day,) = [line for line in lines if line.startswith("Tue 03 Jun")]
    assert "Claude judged 6 of 10 for $0.0040 of $0.05 in 1 call " in day
    assert "⚠ the budget ran out: 4 papers kept their local score" in day
