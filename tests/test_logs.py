"""One logging setup: every process writes time, level, logger and message (or JSON lines), and
the worker's log tells each step's start, outcome and duration."""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Queue

from bot.app import create_app
from paperboy.cli import main
from paperboy.logs import JsonFormatter
from paperboy.settings import Settings
from paperboy.slack import web_client
from paperboy.store import Store
from workers import jobs

from .conftest import ROOT, TEST_REDIS_URL
from .standins.slack_api import TOKEN
from .standins.smtp import free_port
from .standins.web import HTTP

LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: "
)
BIN = Path(sys.executable).parent


def procfile(name: str, **env: str) -> list[str]:
    """The Procfile's command for process `name`, its ${VAR:-default}s filled from `env`."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            command = line.split(":", 1)[1]
            command = re.sub(
                r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1), m.group(2)), command
            )
            words = shlex.split(command)
            return [str(BIN / words[0]), *words[1:]]
    raise AssertionError(f"no {name} in the Procfile")


def environment(tmp_path: Path, **more: str) -> dict[str, str]:
    """This process's environment less Paperboy's settings, with the tests' Redis (processes
    run in `tmp_path`, so no `.env` of the checkout is read)."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SMTP_", "LOG_"))}
    return {**keep, "REDIS_URL": TEST_REDIS_URL, "PACING": "0", **more}


def log_lines(text: str) -> list[str]:
    """The lines that start a log record (a traceback's lines follow their record's)."""
    return [line for line in text.splitlines() if LINE.match(line)]


def test_the_worker_logs_each_step_with_time_and_level(
    redis_client: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Procfile's worker runs a backup and a step that fails for the last time: its log
    shows each step's start, outcome and duration, rq's lines and Paperboy's in one format."""
    monkeypatch.setenv("RETRY_SECONDS", "")  # no retry: the failure is the last one
    queue = Queue(jobs.QUEUE, connection=redis_client)
    jobs.enqueue_step(queue, "backup", str(tmp_path / "backups"))
    jobs.enqueue_step(queue, "score_day", "2001-01-01")  # never fetched: fails
    command = [*procfile("worker", REDIS_URL=TEST_REDIS_URL), "--burst"]
    done = subprocess.run(
        command, cwd=tmp_path, env=environment(tmp_path), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    lines = log_lines(out)
    assert lines and all(LINE.match(line) for line in lines)
    text = "\n".join(lines)
    assert re.search(r" INFO rq\.worker: .*paperboy backup", text)  # rq's own line, our format
    assert re.search(r" INFO workers\.steps: paperboy backup \S+: started \(job ", text)
    assert re.search(r" INFO workers\.jobs: backup of \S+ written to \S+paperboy-\S+\.jsonl", text)
    assert re.search(r" INFO workers\.steps: paperboy backup \S+: done in \d+\.\d\d s: '", text)
    assert re.search(
        r" ERROR workers\.steps: paperboy score_day 2001-01-01: failed after \d+\.\d\d s: "
        r"LookupError: day 2001-01-01 has not been fetched",
        text,
    )
    # the last failure is told: to the admins on Slack, and in any case in the log
    assert " ERROR workers.steps: Paperboy: paperboy score_day 2001-01-01 failed" in text


def test_the_cli_logs_in_the_same_format_or_as_json(
    unconfigured: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["export", "--out", "all.jsonl"]) == 0
    (line,) = capsys.readouterr().err.splitlines()
    assert LINE.match(line) and line.endswith(" INFO paperboy: exported 0 records")
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert main(["export", "--out", "all.jsonl"]) == 0
    record = json.loads(capsys.readouterr().err)
    assert record["level"] == "INFO" and record["logger"] == "paperboy"
    assert record["message"] == "exported 0 records"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def test_a_json_line_keeps_the_traceback_and_the_extras() -> None:
    try:
        raise LookupError("day 2001-01-01 has not been fetched")
    except LookupError:
        record = logging.getLogger("rq.worker").makeRecord(
            "rq.worker",
            logging.ERROR,
            __file__,
            1,
            "job %s failed",
            ("j1",),
            sys.exc_info(),
            extra={"job_id": "j1", "queue": "paperboy"},
        )
    found = json.loads(JsonFormatter().format(record))
    assert found["message"] == "job j1 failed" and found["level"] == "ERROR"
    assert found["job_id"] == "j1" and found["queue"] == "paperboy"
    assert "LookupError: day 2001-01-01" in found["exception"]


def test_the_web_process_logs_in_the_same_format(redis_client: Redis, tmp_path: Path) -> None:
    port = free_port()
    command = procfile("web", PORT=str(port))
    command[command.index("--workers") + 1] = "1"
    log = (tmp_path / "web.log").open("w")
    env = environment(tmp_path, PORT=str(port))
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "web.log").read_text()
            try:
                if HTTP.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = (tmp_path / "web.log").read_text()
    lines = log_lines(text)
    assert len(lines) == len([line for line in text.splitlines() if line.strip()]), text
    assert any(" INFO gunicorn.error: Starting gunicorn" in line for line in lines), text


def test_the_clock_refuses_to_start_on_a_schedule_it_cannot_run(tmp_path: Path) -> None:
    command = procfile("clock", REDIS_URL=TEST_REDIS_URL)
    env = environment(tmp_path, SCHEDULE_CRON="0 25 * * 1-5")
    done = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "SCHEDULE_CRON: '0 25 * * 1-5' is not a cron expression" in done.stderr


def test_the_slack_app_leaves_paperboy_s_loggers_to_the_setup(
    store: Store, unconfigured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bolt gives the logger named after its app the root's level of that moment: named
    `paperboy`, every paperboy.* line of the web process would keep it, INFO lost for good."""
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "a-secret")
    logging.getLogger().setLevel(logging.WARNING)  # before the process's setup (restored after)
    create_app(Settings(), store, web_client(TOKEN, "http://127.0.0.1:9/api/"))
    assert logging.getLogger("paperboy").level == logging.NOTSET
