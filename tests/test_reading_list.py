"""Reading lists in the store, on a real Redis: a save is one atomic step, as a vote is; it is
exported, imported and forgotten with the reader; it teaches like a 👍 where they did not vote."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from paperboy.days import Context
from paperboy.local import LocalScorer
from paperboy.models import Paper, Prior, Vote
from paperboy.readers import reader_model
from paperboy.reading_list import SavedRecord
from paperboy.store import Store
from paperboy.votes import teaching

A, B, C = "2506.00019", "2506.00022", "2506.00030"
T0 = datetime(2025, 6, 3, 9, 0, tzinfo=UTC)


def stored(store: Store, *ids: str) -> None:
    store.save_papers([Paper(id=pid, title=f"Paper {pid}", abstract="about graphs") for pid in ids])


def test_the_button_saves_and_the_same_again_removes(store: Store) -> None:
    stored(store, A, B)
    first = store.save("U1", A)
    assert (first.outcome, first.previous, first.saved) == ("ok", False, True)
    assert first.at is not None
    store.save("U1", B)
    assert [s.paper for s in store.saved("U1")] == [B, A]  # newest first
    again = store.save("U1", A)
    assert (again.outcome, again.saved) == ("ok", False)
    assert [s.paper for s in store.saved("U1")] == [B]
    assert not store.is_saved("U1", A) and store.is_saved("U1", B)
    assert store.save("U1", A, "remove").outcome == "same"  # a removal is no toggle
    assert store.reader_ids() == ["U1"]  # someone with a list is a reader: exported, forgotten


def test_a_paper_not_stored_is_refused_when_asked(store: Store) -> None:
    assert store.save("U1", A, stored_only=True).outcome == "no-paper"
    assert store.saved("U1") == []


def test_two_presses_at_once_are_a_save_and_its_removal(store: Store) -> None:
    stored(store, A)
    for n in range(30):
        gate = threading.Barrier(2)

        def press(user: str = f"U{n}", gate: threading.Barrier = gate) -> None:
            gate.wait()
            store.save(user, A)

        threads = [threading.Thread(target=press) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not store.is_saved(f"U{n}", A), f"pair {n} left the paper saved"


def test_a_press_delivered_twice_counts_once(store: Store) -> None:
    stored(store, A)
    assert store.save("U1", A, delivery="save:U1:x:1").outcome == "ok"
    again = store.save("U1", A, delivery="save:U1:x:1")
    assert (again.outcome, again.saved) == ("seen", True)
    assert store.is_saved("U1", A)


def test_saving_keeps_the_paper_for_good(store: Store) -> None:
    stored(store, A, B)
    store.save("U1", A)
    assert store.redis.ttl(store.key("paper", A)) == -1
    assert store.redis.ttl(store.key("paper", B)) > 0
    assert store.is_kept([A, B]) == {A: True, B: False}
    store.save("U1", A)  # removed from the list: the archive keeps what it kept
    assert store.redis.ttl(store.key("paper", A)) == -1


def test_export_import_and_forget(store: Store) -> None:
    stored(store, A, B)
    store.save("U1", A)
    store.save("U1", B)
    store.save("U1", B)  # removed: exported too, so an older save never stands over it
    exported = list(store.export_with_papers("U1"))
    kinds = [r["type"] for r in exported]
    assert kinds.count("saved") == 2 and {r["id"] for r in exported if r["type"] == "paper"} == {
        A,
        B,
    }
    store.redis.flushdb()
    store.import_with_papers(exported)
    assert [s.paper for s in store.saved("U1")] == [A]
    assert store.redis.ttl(store.key("paper", A)) == -1
    # An older save of B does not stand over its removal; a newer one does.
    removed_at = next(r["at"] for r in exported if r["type"] == "saved" and r["paper"] == B)
    older = SavedRecord("U1", B, True, datetime.fromisoformat(removed_at) - timedelta(days=1))
    assert store.import_saved([older]) == 0
    newer = SavedRecord("U1", B, True, datetime.fromisoformat(removed_at) + timedelta(days=1))
    assert store.import_saved([newer]) == 1 and store.is_saved("U1", B)
    store.forget("U1")
    assert store.saved("U1") == [] and store.reader_ids() == []
    bad = {"type": "saved", "reader": "U1", "paper": A, "saved": "no", "at": removed_at}
    with pytest.raises(ValueError, match="true or false"):
        store.import_records([bad])
    with pytest.raises(ValueError, match="time zone"):
        store.import_records([{**bad, "saved": True, "at": "2025-06-03T09:00:00"}])


def test_a_save_teaches_like_a_like_unless_the_reader_voted() -> None:
    assert teaching({A: -1}, [A, B]) == {A: -1, B: 1}
    assert teaching({}, [C, A]) == {C: 1, A: 1}


def test_the_reader_model_learns_from_saves(store: Store) -> None:
    stored(store, A, B, C)
    store.append_vote(Vote(reader="U1", paper=A, value=-1, at=T0, source="slack"))
    store.save("U1", A)  # voted 👎: the save teaches nothing more
    store.save("U1", B)  # no vote: a 👍
    ctx = Context(store=store, prior=Prior(), local=LocalScorer(Prior()))
    taught = reader_model(ctx, "U1").taught
    assert [p.id for p in taught.liked] == [B]
    assert [p.id for p in taught.disliked] == [A]
    store.save("U1", B)  # removed: it teaches no more
    assert reader_model(ctx, "U1").taught.liked == []
