"""The Message Batches endpoints of the Anthropic stand-in: create, retrieve, results, cancel.

A batch holds its requests and processes them with the stand-in's model and cache, billed as
batch usage (`service_tier: batch`). With `batch_auto` (the default) every request is processed
at the first retrieve, as a batch that finished before anyone looked; without it, a test calls
`process(state, batch_id, n)` to finish the next `n` requests, so a batch can still be open
when the day is delivered. A cancel leaves the batch `canceling` for `cancel_polls` retrieves,
then ends it: the requests not processed by then are `canceled`. `script_batch` in
`batch_queue` gives the next processed requests a misbehaviour (`errored`, or a reply mode).
With `batch_html` every batch endpoint answers a captive portal's page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.standins.anthropic_api import AnthropicStandIn, Handler

PREFIX = "/v1/messages/batches"
PORTAL = b"<!doctype html><html><body>Wi-Fi login</body></html>"


@dataclass
class StandInBatch:
    """One Message Batch: its requests, and the results of those processed."""

    id: str
    requests: list[dict[str, Any]]
    created_at: datetime
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: str = "in_progress"
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None
    polls_left: int = 0
    retrieved: int = 0

    def counts(self) -> dict[str, int]:
        kinds = ["succeeded", "errored", "canceled", "expired"]
        if self.status != "ended":
            return {"processing": len(self.requests), **dict.fromkeys(kinds, 0)}
        found = [r["type"] for r in self.results.values()]
        return {"processing": 0, **{k: found.count(k) for k in kinds}}

    def view(self, url: str) -> dict[str, Any]:
        """The batch as the API describes it."""

        def iso(when: datetime | None) -> str | None:
            return when.isoformat().replace("+00:00", "Z") if when else None

        ended = self.status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.status,
            "request_counts": self.counts(),
            "created_at": iso(self.created_at),
            "expires_at": iso(self.created_at + timedelta(hours=24)),
            "ended_at": iso(self.ended_at),
            "cancel_initiated_at": iso(self.cancel_initiated_at),
            "archived_at": None,
            "results_url": f"{url}{PREFIX}/{self.id}/results" if ended else None,
        }


def asked(request: dict[str, Any]) -> list[str]:
    """The paper ids a batch request asks about."""
    from tests.standins.anthropic_api import Call

    return Call({}, request["params"], 0).asked


def script_batch(state: AnthropicStandIn, *modes: str) -> None:
    """The next processed batch requests misbehave so (`errored`, `missing`, `invalid_json`)."""
    state.batch_queue.extend(modes)


def process(state: AnthropicStandIn, batch_id: str, n: int | None = None) -> None:
    """Finish the next `n` (default: all) requests of a batch still processing."""
    batch: StandInBatch = state.batches[batch_id]
    todo = [r for r in batch.requests if r["custom_id"] not in batch.results]
    for request in todo[: len(todo) if n is None else n]:
        with state.lock:
            mode = state.batch_queue.popleft() if state.batch_queue else "ok"
        params = request["params"]
        status, kind, message = state.check(params)
        if status or mode == "errored":
            error = {"type": kind or "api_error", "message": message or "stand-in says errored"}
            result = {"type": "errored", "error": {"type": "error", "error": error}}
        else:
            result = {"type": "succeeded", "message": state.message(params, mode, batch=True)}
        batch.results[request["custom_id"]] = result
    if len(batch.results) == len(batch.requests) and batch.status == "in_progress":
        batch.status, batch.ended_at = "ended", datetime.now(UTC)


def _end_canceled(batch: StandInBatch) -> None:
    for request in batch.requests:
        batch.results.setdefault(request["custom_id"], {"type": "canceled"})
    batch.status, batch.ended_at = "ended", datetime.now(UTC)


def post(handler: Handler, path: str, body: dict[str, Any]) -> None:
    state = handler.state
    if state.batch_html:
        handler.send_bytes(200, PORTAL, "text/html; charset=utf-8")
        return
    if path == PREFIX:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            handler.send_json(400, _error("requests: expected a non-empty list"))
            return
        ids = [r.get("custom_id") for r in requests if isinstance(r, dict)]
        if len(ids) != len(requests) or len(set(ids)) != len(ids):
            handler.send_json(400, _error("requests: each needs a unique custom_id"))
            return
        batch = StandInBatch(
            id=f"msgbatch_standin_{len(state.batches) + 1:04d}",
            requests=requests,
            created_at=datetime.now(UTC),
        )
        state.batches[batch.id] = batch
        handler.send_json(200, batch.view(state.url))
        return
    parts = path.removeprefix(PREFIX + "/").split("/")
    batch = state.batches.get(parts[0])
    if batch is None or parts[1:] != ["cancel"]:
        handler.send_json(404, _error(f"no batch at {path}", "not_found_error"))
        return
    if batch.status == "in_progress":
        batch.status, batch.cancel_initiated_at = "canceling", datetime.now(UTC)
        batch.polls_left = state.cancel_polls
        if not batch.polls_left:
            _end_canceled(batch)
    handler.send_json(200, batch.view(state.url))


def get(handler: Handler, path: str) -> None:
    state = handler.state
    if state.batch_html:
        handler.send_bytes(200, PORTAL, "text/html; charset=utf-8")
        return
    parts = path.removeprefix(PREFIX + "/").split("/")
    batch = state.batches.get(parts[0]) if path.startswith(PREFIX + "/") else None
    if batch is None:
        handler.send_json(404, _error(f"no batch at {path}", "not_found_error"))
        return
    if parts[1:] == []:
        batch.retrieved += 1
        if batch.status == "in_progress" and state.batch_auto:
            process(state, batch.id)
        elif batch.status == "canceling":
            if batch.polls_left <= 0:
                _end_canceled(batch)
            batch.polls_left -= 1
        handler.send_json(200, batch.view(state.url))
    elif parts[1:] == ["results"] and batch.status == "ended":
        lines = [
            json.dumps({"custom_id": r["custom_id"], "result": batch.results[r["custom_id"]]})
            for r in batch.requests
        ]
        handler.send_bytes(200, ("\n".join(lines) + "\n").encode(), "application/binary")
    else:
        handler.send_json(404, _error(f"no results yet at {path}", "not_found_error"))


def _error(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
