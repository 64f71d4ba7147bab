"""The store on a real Redis: the vote log, readers, guards, export and import."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import redis
from pydantic import ValidationError
from redis import Redis
from redis.exceptions import LockError

from paperboy.leases import held
from paperboy.models import DayRecord, Paper, Reader, Score, Vote
from paperboy.store import Store, in_process

from .conftest import TEST_REDIS_URL

T0 = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def vote(reader: str, paper: str, value: int, minutes: int = 0, source: str = "cli") -> Vote:
    return Vote(
        reader=reader, paper=paper, value=value, at=T0 + timedelta(minutes=minutes), source=source
    )  # type: ignore[arg-type]


def test_vote_undo_and_switch_are_appended_never_rewritten(store: Store) -> None:
    store.append_vote(vote("U1", "2506.00019", 1, 0))
    assert store.current_vote("U1", "2506.00019") == 1
    assert store.tally("2506.00019") == (1, 0)
    store.append_vote(vote("U1", "2506.00019", 0, 1))  # undo
    assert store.current_vote("U1", "2506.00019") == 0
    assert store.tally("2506.00019") == (0, 0)
    store.append_vote(vote("U1", "2506.00019", -1, 2))  # switch to 👎
    store.append_vote(vote("U2", "2506.00019", 1, 3))
    assert store.tally("2506.00019") == (1, 1)
    assert [v.value for v in store.votes("U1")] == [1, 0, -1]
    assert store.reader_ids() == ["U1", "U2"]


def test_votes_never_expire_papers_do_unless_voted_on(store: Store) -> None:
    store.save_papers([Paper(id="2506.00019", title="A paper"), Paper(id="2506.00020", title="B")])
    store.append_vote(vote("U1", "2506.00019", 1))
    assert store.redis.ttl(store.key("paper", "2506.00020")) > 0
    assert store.redis.ttl(store.key("paper", "2506.00019")) == -1  # it teaches the profile
    assert store.redis.ttl(store.key("votes", "U1")) == -1
    assert store.redis.ttl(store.key("tally", "2506.00019")) == -1


def test_export_then_import_into_an_empty_store_reproduces_the_log(store: Store) -> None:
    store.save_reader(
        Reader(id="U1", email="ada@example.org", email_enabled=True, authors=["Yann LeCun"])
    )
    for n, value in enumerate([1, -1, 0, 1]):
        store.append_vote(vote("U1", f"2506.0001{n}", value, n, "slack"))
    lines = [json.dumps(record) for record in store.export("U1")]
    before = (store.reader("U1"), store.votes("U1"), store.tally("2506.00011"))
    store.redis.flushdb()
    assert store.votes("U1") == []
    assert store.import_records(json.loads(line) for line in lines) == (1, 4)
    assert (store.reader("U1"), store.votes("U1"), store.tally("2506.00011")) == before
    # importing the same file again adds nothing
    assert store.import_records(json.loads(line) for line in lines) == (1, 0)
    assert len(store.votes("U1")) == 4


def test_forget_removes_a_reader_and_their_share_of_tallies(store: Store) -> None:
    store.save_reader(Reader(id="U1", email="ada@example.org"))
    store.append_vote(vote("U1", "2506.00019", 1))
    store.append_vote(vote("U2", "2506.00019", 1))
    store.forget("U1")
    assert store.reader("U1") is None and store.votes("U1") == []
    assert store.tally("2506.00019") == (1, 0)
    assert store.reader_ids() == ["U2"]


def test_a_step_is_leased_to_one_worker_and_frees_itself_when_it_dies(store: Store) -> None:
    day = date(2025, 6, 3)
    mine = store.step_lease(day, "score", 0.5)
    assert mine.acquire(blocking=False)
    theirs = store.step_lease(day, "score", 0.5)
    assert not theirs.acquire(blocking=False)  # running elsewhere
    with pytest.raises(LockError):
        theirs.release()  # only its holder can let it go
    with held(mine):
        time.sleep(0.8)  # longer than the lease: renewed while its holder works
        assert not theirs.acquire(blocking=False)
    assert theirs.acquire(blocking=False)  # released at the end
    dead = store.step_lease(day, "fetch", 0.3)
    assert dead.acquire(blocking=False)  # a holder killed now renews nothing
    time.sleep(0.4)
    assert store.step_lease(day, "fetch", 0.3).acquire(blocking=False)
    store.finish(day, "score")
    assert store.is_done(day, "score") and not store.is_done(day + timedelta(days=1), "score")


def test_first_seen_keeps_the_earliest_day(store: Store) -> None:
    store.mark_seen(["2506.00019"], date(2025, 6, 3))
    store.mark_seen(["2506.00019", "2506.00020"], date(2025, 6, 4))
    assert store.first_seen(["2506.00019", "2506.00020", "2506.99999"]) == {
        "2506.00019": date(2025, 6, 3),
        "2506.00020": date(2025, 6, 4),
    }


@pytest.fixture(params=["redis", "in-process"])
def any_store(request: pytest.FixtureRequest, store: Store) -> Iterator[Store]:
    """The tests' Redis, or the in-process store the CLI falls back to without one."""
    if request.param == "redis":
        yield store
        return
    client = in_process()
    client.flushdb()
    yield Store(client, persistent=False)
    client.flushdb()


def test_back_to_back_turns_wait_their_spacing_each(any_store: Store) -> None:
    waits: list[float] = []  # a clock that records the waits instead of sleeping them
    for _ in range(3):
        any_store.wait_turn("arxiv", 3.0, sleep=waits.append)
    assert waits == pytest.approx([0, 3, 6], abs=0.25)  # the first turn is free
    assert any_store.redis.pttl(any_store.key("turn", "arxiv")) > 0  # the last turn is kept


def test_two_workers_share_the_turns(redis_client: Redis) -> None:
    one, two = Store(redis_client), Store(Redis.from_url(TEST_REDIS_URL))
    waits: list[float] = []
    for worker in (one, two, one, two):
        worker.wait_turn("arxiv", 3.0, sleep=waits.append)
    assert waits == pytest.approx([0, 3, 6, 9], abs=0.25)
    two.redis.close()


def test_a_turn_after_the_spacing_has_passed_is_free(any_store: Store) -> None:
    waits: list[float] = []
    any_store.wait_turn("slack-post:C1", 0.1, sleep=waits.append)
    any_store.wait_turn("slack-post:C1", 0.1, sleep=time.sleep)  # waits for real
    time.sleep(0.15)
    any_store.wait_turn("slack-post:C1", 0.1, sleep=waits.append)
    any_store.wait_turn("slack-post:C2", 0.1, sleep=waits.append)  # another channel's own turns
    assert waits == [0, 0, 0]


def test_without_spacing_turns_never_wait(any_store: Store) -> None:
    waits: list[float] = []
    for _ in range(5):
        any_store.wait_turn("arxiv", 0, sleep=waits.append)
    assert waits == [0] * 5


def test_days_are_listed_from_an_index_and_age_out(store: Store) -> None:
    for day in (date(2025, 6, 4), date(2025, 3, 1), date(2025, 6, 3)):
        store.update_day(day, papers=[])
    assert store.days() == [date(2025, 6, 3), date(2025, 6, 4)]  # March is past retention
    store.update_day(date(2025, 6, 3), order=[])
    assert store.days() == [date(2025, 6, 3), date(2025, 6, 4)]


class LetsAnotherIn(redis.Redis):
    """A Redis client that runs another writer's step right after its first read, as a
    second worker would when it writes between this one's read and its write."""

    def __init__(self, other: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.other: Callable[[], None] | None = other

    def execute_command(self, *args: Any, **options: Any) -> Any:
        result = super().execute_command(*args, **options)
        if self.other is not None and str(args[0]).upper() in ("GET", "HGET", "HGETALL", "HMGET"):
            other, self.other = self.other, None
            other()
        return result


def test_two_writers_of_a_day_record_lose_no_field(store: Store) -> None:
    day = date(2025, 6, 3)
    order = [Score(paper=f"2506.{n:05d}", scorer="local", score=-n) for n in range(50)]
    ids = [s.paper for s in order]
    scorer = Store(store.redis)
    ran: list[str] = []

    def score_step() -> None:
        scorer.update_day(day, order=order)
        ran.append("score")

    pool = store.redis.connection_pool
    fetcher = Store(LetsAnotherIn(score_step, connection_pool=pool))
    fetcher.update_day(day, papers=ids, feeds=["cs.LG"])
    if not ran:  # the write read nothing first: the other step simply comes after
        score_step()
    record = store.day(day)
    assert record is not None
    assert (record.papers, record.feeds, record.order) == (ids, ["cs.LG"], order)
    assert store.day(day, "feeds") == DayRecord(day=day, feeds=["cs.LG"])


def test_a_day_record_refuses_what_it_does_not_hold(store: Store) -> None:
    with pytest.raises(TypeError, match="no field colour"):
        store.update_day(date(2025, 6, 3), colour="blue")
    with pytest.raises(ValidationError):
        store.update_day(date(2025, 6, 3), papers="2506.00001")
    assert store.day(date(2025, 6, 3)) is None
