"""1,000 signed 👍/👎 clicks at each concurrency, against the web process as the Procfile runs it.

Starts the Slack Web API stand-in, posts a 20-paper day into it, then runs
`gunicorn --workers 2 --threads 8 'bot.app:wsgi()'` and the interactive worker (which refreshes
each voter's Home) against Redis and the stand-in, and sends 1,000 signed `block_actions`
requests (50 readers x 20 papers, each pair once) from 20, 50 and 100 threads in turn
(`--concurrency`). Prints p50/p99 response latency and votes per second at each, checks that
every vote is in the log and every tally is right, and waits for the confirmations and coalesced
message updates to drain. Goals: no vote lost; p99 under 150 ms at 20 and 50 clicks at once,
under 250 ms at 100 (Slack allows 3 s).

Requests are built and signed before the clock starts and sent over kept-alive connections
with `http.client`, so the load generator takes as little of the machine's CPU as it can; the
CPU each process spent during the votes is printed too.

    .venv/bin/python -m bench.votes [--concurrency 20 50 100] [--redis redis://127.0.0.1:6379/2]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench import BIG_DAY, ROOT
from paperboy import blocks
from paperboy.arxiv import read_saved
from paperboy.feed import parse_feed
from paperboy.models import Digest, Ranked, Score
from paperboy.slack import post_day, web_client
from paperboy.store import Store, connect
from tests.standins.slack_api import TOKEN, click, interaction, signed

SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"
READERS, PAPERS = 50, 20
GOALS_MS = {20: 150.0, 50: 150.0, 100: 250.0}
"""The p99 latency goal at each concurrency (others: 250 ms)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far, from /proc (0 where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def redis_cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the web process did not become healthy in 30 s")


class StandIn:
    """The Slack stand-in run in its own process, so that it does not share the bench's GIL."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.standins.slack_api"], cwd=ROOT, stdout=subprocess.PIPE
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().decode().strip()
        self.root = self.url.removesuffix("/api/")

    def state(self) -> dict[str, Any]:
        return dict(httpx.get(self.root + "/_state", timeout=10).json())

    def replies(self, channel: str, parent: str) -> list[dict[str, Any]]:
        return [
            m for m in self.state()["messages"].get(channel, []) if m.get("thread_ts") == parent
        ]

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_level(
    port: int,
    jobs: list[tuple[str, dict[str, Any], str]],
    level: int,
    watched: dict[str, list[int]],
    redis_client: Any,
) -> bool:
    """Send the jobs' clicks, `level` at a time; print their latency; True when within goal."""
    # built and signed before the clock starts (the signature is good for 5 minutes)
    requests = []
    for user, reply, action in jobs:
        body = interaction(click(user, action, reply, CHANNEL))
        requests.append((body.encode(), signed(SECRET, body)))
    local = threading.local()

    def send(request: tuple[bytes, dict[str, str]]) -> tuple[float, int]:
        body, headers = request
        if not hasattr(local, "http"):
            local.http = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        started = time.perf_counter()
        try:
            local.http.request("POST", "/slack/events", body, headers)
            response = local.http.getresponse()
        except (OSError, http.client.HTTPException):
            # not resent: a second click would undo the vote; the checks tell
            local.http.close()
            del local.http
            return time.perf_counter() - started, 0
        response.read()
        return time.perf_counter() - started, response.status

    before = {name: sum(map(cpu_seconds, pids)) for name, pids in watched.items()}
    redis_before = redis_cpu(redis_client)
    started = time.perf_counter()
    with ThreadPoolExecutor(level) as pool:
        results = list(pool.map(send, requests))
    wall = time.perf_counter() - started
    spent = {name: sum(map(cpu_seconds, pids)) - before[name] for name, pids in watched.items()}
    spent["Redis"] = redis_cpu(redis_client) - redis_before
    latencies = sorted(seconds * 1000 for seconds, _ in results)
    statuses = Counter(status for _, status in results)
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    goal = GOALS_MS.get(level, 250.0)
    met = p99 < goal and statuses == Counter({200: len(jobs)})
    print(
        f"{len(jobs)} votes, {level} at a time: {wall:.2f} s, {len(jobs) / wall:.0f} votes/s; "
        f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms "
        f"[{'ok' if met else 'MISSED'}: p99 < {goal:.0f} ms]; statuses {dict(statuses)}"
    )
    print(
        "  CPU: "
        + ", ".join(
            f"{name} {seconds:.2f} s ({seconds / len(jobs) * 1000:.1f} ms a vote)"
            for name, seconds in spent.items()
        )
        + f"; {os.cpu_count()} cores, load average "
        + " ".join(f"{n:.2f}" for n in os.getloadavg())
    )
    return met


def check(store: Store, jobs: list[tuple[str, dict[str, Any], str]], papers: list[Any]) -> bool:
    """Every vote in its reader's log, and every tally right; printed, True when so."""
    expected = {
        (u, str(blocks.paper_of(reply)), 1 if a == blocks.VOTE_UP else -1) for u, reply, a in jobs
    }
    readers = sorted({u for u, _, _ in jobs})
    logged = {(v.reader, v.paper, v.value) for r in readers for v in store.votes(r)}
    count = sum(len(store.votes(r)) for r in readers)
    tallies_ok = all(
        store.tally(p.id)
        == (
            sum(1 for u, q, v in expected if q == p.id and v == 1),
            sum(1 for u, q, v in expected if q == p.id and v == -1),
        )
        for p in papers
    )
    lost = len(expected - logged)
    print(
        f"votes in the log: {count} of {len(jobs)}, lost {lost}, tallies right: "
        f"{'yes' if tallies_ok else 'NO'}"
    )
    return lost == 0 and count == len(jobs) and tallies_ok


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument(
        "--redis",
        default=os.environ.get("PAPERBOY_BENCH_REDIS_URL", "redis://127.0.0.1:6379/2"),
        help="a Redis database the bench may empty (PAPERBOY_BENCH_REDIS_URL, else db 2)",
    )
    args.add_argument(
        "--concurrency", type=int, nargs="+", default=[20, 50, 100], help="clicks at once"
    )
    opts = args.parse_args()
    redis_client = connect(opts.redis)
    redis_client.flushdb()
    store = Store(redis_client)
    papers = parse_feed(BIG_DAY.name, read_saved(BIG_DAY)).papers[:PAPERS]
    store.save_papers(papers)
    entries = [
        Ranked(paper=p, score=Score(paper=p.id, scorer="local", score=1 - n / 100))
        for n, p in enumerate(papers)
    ]
    digest = Digest(day=date(2025, 6, 3), read=834, entries=entries, scorer="local")

    slack = StandIn()
    try:
        parent = post_day(web_client(TOKEN, slack.url), store, CHANNEL, digest, spacing=0).parent
        replies = slack.replies(CHANNEL, parent)
        port = free_port()
        env = {
            **os.environ,
            "REDIS_URL": opts.redis,
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.url,
            "SLACK_CHANNEL": CHANNEL,
            "SLACK_APP_TOKEN": "",
            "PORT": str(port),
        }
        command = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            "2",
            "--threads",
            "8",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bot.app:wsgi()",
        ]
        log_path = Path(tempfile.gettempdir()) / "paperboy-bench-votes.log"
        log_file = log_path.open("wb")
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=log_file)
        print(f"web process: {' '.join(command[1:])} (log in {log_path})")
        url = f"http://127.0.0.1:{port}"
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "rq"),
                "worker",
                "--worker-class",
                "rq.worker.SimpleWorker",
                "--url",
                opts.redis,
                "interactive",
            ],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=log_file,
        )
        goal = True
        try:
            wait_healthy(url, proc)
            watched = {
                "web workers": [proc.pid, *children(proc.pid)],
                "interactive worker": [worker.pid],
                "Slack stand-in": [slack.proc.pid],
                "load generator": [os.getpid()],
            }
            all_jobs = []
            for level in opts.concurrency:
                jobs = []
                for r in range(READERS):
                    for p, reply in enumerate(replies):
                        action = blocks.VOTE_UP if (r + p) % 3 else blocks.VOTE_DOWN
                        jobs.append((f"U{level}x{r:03d}", reply, action))
                all_jobs += jobs
                met = run_level(port, jobs, level, watched, redis_client)
                goal = goal and met
            goal = check(store, all_jobs, papers) and goal
            drain = time.monotonic()
            while True:
                state = slack.state()
                done = state["counts"].get("chat.postEphemeral", 0)
                shown = all(
                    f"👍 {store.tally(str(blocks.paper_of(reply)))[0]}" in str(m["blocks"])
                    for reply in replies
                    for m in state["messages"][CHANNEL]
                    if m["ts"] == reply["ts"]
                )
                if (done >= len(all_jobs) and shown) or time.monotonic() - drain > 120:
                    break
                time.sleep(0.5)
            updates = state["counts"].get("chat.update", 0)
            print(
                f"after {time.monotonic() - drain:.1f} s more: {done} ephemeral confirmations, "
                f"{updates} chat.update calls for {len(all_jobs)} clicks (coalesced), every "
                f"message shows its tally: {'yes' if shown else 'NO'}, "
                f"{len(state['views'])} Home tabs published"
            )
            print(f"goals (no vote lost; p99 under {GOALS_MS}): {'met' if goal else 'NOT met'}")
        finally:
            for running in (proc, worker):
                running.terminate()
                running.wait(timeout=30)
            log_file.close()
    finally:
        slack.close()
    redis_client.flushdb()
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
