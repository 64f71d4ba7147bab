"""Progress on long work: on a terminal `paperboy run` redraws one line for posting and mailing
(papers posted of N, readers mailed of N); elsewhere a few plain log lines."""

from __future__ import annotations

import io
import logging
import os
import pty
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trustme

from paperboy import logs
from paperboy.models import Reader
from paperboy.progress import Meter
from paperboy.store import Store

from .conftest import FIXTURES, TEST_REDIS_URL
from .standins.slack_api import TOKEN
from .standins.slack_api import serve as slack_serve
from .standins.smtp import PASSWORD, USER, smtp_server

FEED = FIXTURES / "days" / "cs.SD+eess.AS-2025-06-04.xml"


def test_on_a_terminal_paperboy_run_shows_posting_and_mailing(store: Store, tmp_path: Path) -> None:
    """`paperboy run` with its standard error on a terminal (a pseudo-terminal here)."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    for n in (1, 2):
        store.save_reader(Reader(id=f"U{n}", email=f"r{n}@example.org", email_enabled=True))
    with slack_serve() as slack, smtp_server(ca) as smtp:
        env = {
            "PATH": "/usr/bin:/bin",
            "REDIS_URL": TEST_REDIS_URL,
            "PACING": "0",
            "DIGEST_SIZE": "8",
            "SLACK_BOT_TOKEN": TOKEN,
            "SLACK_CHANNEL": "C0PAPERS",
            "SLACK_API_URL": slack.url,
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "SMTP_USER": USER,
            "SMTP_PASSWORD": PASSWORD,
            "EMAIL_FROM": "paperboy@lab.example.org",
            "LINK_SECRET": "progress-test-secret",
            "PUBLIC_URL": "https://paperboy.lab.example.org",
            "SSL_CERT_FILE": str(bundle),
        }
        terminal, seen_by = pty.openpty()
        command = [str(Path(sys.executable).parent / "paperboy"), "run", "--feed", str(FEED)]
        proc = subprocess.Popen(
            [*command, "--out", str(tmp_path)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=seen_by,
        )
        os.close(seen_by)
        shown = b""
        while True:
            try:
                chunk = os.read(terminal, 65536)
            except OSError:  # the other end closed: the process is done
                break
            if not chunk:
                break
            shown += chunk
        os.close(terminal)
        assert proc.wait(timeout=60) == 0, shown.decode(errors="replace")
        assert len(smtp.messages()) == 2
    text = shown.decode()
    # one line redrawn in place (a carriage return before each count), ended once complete
    posting = re.findall(r"\r\x1b\[2Kposting to Slack C0PAPERS: (\d+) of 8", text)
    assert posting == [str(n) for n in range(9)]
    assert "\r\x1b[2Kmailing readers: 2 of 2\r\n" in text
    assert "paperboy.progress" not in text  # no log lines where the meter draws
    # a log line meanwhile (each reader mailed) erases the meter's line, never glues onto it
    assert "emailed reader U1" in text
    assert not re.search(r"of \d+\d{4}-\d\d-\d\dT", text)


def test_elsewhere_progress_is_a_log_line_each_quarter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="paperboy.progress")
    stream = io.StringIO()
    meter = Meter(stream=stream, tty=False)
    for done in range(11):
        meter("mailing readers", done, 10)
    assert [r.getMessage() for r in caplog.records] == [
        f"mailing readers: {n} of 10" for n in (3, 5, 8, 10)
    ]
    assert stream.getvalue() == ""


class _Terminal(io.StringIO):
    """A terminal that takes a moment over each write, as a real one may: another thread gets
    the chance to write in between."""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        time.sleep(0.0005)
        return super().write(text)


def test_log_lines_and_the_meter_from_many_threads_never_write_into_each_other(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Email goes out from several threads, each logging its reader and moving the meter."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logs.Stderr()
    handler.setFormatter(logs.formatter("text"))
    logger = logging.getLogger("paperboy.test.mailing")
    logger.addHandler(handler)
    logger.propagate = False
    meter = Meter(stream=terminal)
    total = 4 * 25

    def mail(thread: int) -> None:
        for n in range(25):
            logger.warning("emailed reader U%d-%d", thread, n)
            meter("mailing readers", thread * 25 + n + 1, total)

    try:
        threads = [threading.Thread(target=mail, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        logger.removeHandler(handler)
    lines = terminal.getvalue().split("\n")
    logged = [line for line in lines if "emailed reader" in line]
    assert len(logged) == total
    # each log line is whole: the meter's erase, then the line, and nothing drawn inside it
    for line in logged:
        assert re.fullmatch(
            r"(\r\x1b\[2Kmailing readers: \d+ of 100)*\r\x1b\[2K\S+Z WARNING "
            r"paperboy\.test\.mailing: emailed reader U\d-\d+",
            line,
        ), repr(line)
