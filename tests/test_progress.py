"""Progress on long work: on a terminal `paperboy run` redraws one line for posting and mailing
(papers posted of N, readers mailed of N); elsewhere a few plain log lines."""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
import trustme

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
