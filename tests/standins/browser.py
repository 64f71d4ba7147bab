"""Headless Chromium standing in for a mail client: measures and photographs an HTML email.

Chromium is driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
messages ending in NUL on file descriptors 3 and 4), so no port, no websocket library and no
network. The page gets the exact width through device emulation (a headless window cannot be
narrower than 500 px), and the email itself carries no script: measuring is done from outside.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
]
TIMEOUT = 60.0
"""Seconds Chromium may take to answer one command."""

_MEASURE = """JSON.stringify((function () {
  var w = window.innerWidth, out = [];
  document.querySelectorAll("body *").forEach(function (el) {
    var r = el.getBoundingClientRect();
    if (r.width && r.right > w + 0.5) {
      out.push(el.tagName.toLowerCase() + "." + (el.className || "") + " right=" + r.right);
    }
  });
  return {innerWidth: w, scrollWidth: document.documentElement.scrollWidth,
          scrollHeight: document.documentElement.scrollHeight, overflowing: out.slice(0, 20),
          background: getComputedStyle(document.body).backgroundColor};
})())"""


def chromium() -> str | None:
    """The Chromium binary, or None when it is not installed."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Pipe:
    """The DevTools connection to a running Chromium: commands out, replies and events in."""

    to_browser: int
    from_browser: int
    buffer: bytes = b""
    next_id: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.from_browser], [], [], max(left, 0))
            if not ready:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buffer += chunk
        raw, _, self.buffer = self.buffer.partition(b"\0")
        return dict(json.loads(raw))

    def send(self, method: str, session: str = "", **params: Any) -> dict[str, Any]:
        """Send a command (to a tab's session, or to the browser) and return its result."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            if "method" in reply:
                self.events.append(reply)

    def wait_for(self, event: str, session: str = "") -> dict[str, Any]:
        """Wait for a session's event (one already received counts)."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            for seen in self.events:
                if seen["method"] == event and seen.get("sessionId", "") == session:
                    self.events.remove(seen)
                    return seen
            reply = self._read(deadline)
            if "method" in reply:
                self.events.append(reply)


@dataclass
class Page:
    """One tab of a running Chromium."""

    pipe: Pipe
    session: str

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        return self.pipe.send(method, self.session, **params)

    def wait_for(self, event: str) -> dict[str, Any]:
        return self.pipe.wait_for(event, self.session)


@contextmanager
def launch() -> Iterator[Pipe]:
    """A fresh headless Chromium, its tabs opened with `open_page`; closed afterwards."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("Chromium is not installed: apt-get install chromium")
    ours_in, theirs_in = os.pipe()  # Chromium reads commands from fd 3
    theirs_out, ours_out = os.pipe()  # and writes replies to fd 4

    def plumb() -> None:  # in the child: move the pipe ends to 3 and 4, kept across exec
        high_in, high_out = (fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (ours_in, ours_out))
        os.dup2(high_in, 3)
        os.dup2(high_out, 4)

    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=plumb,
            close_fds=False,
        )
        os.close(ours_in)
        os.close(ours_out)
        pipe = Pipe(to_browser=theirs_in, from_browser=theirs_out)
        try:
            yield pipe
        finally:
            try:
                pipe.send("Browser.close")
            except (RuntimeError, TimeoutError, OSError):
                proc.kill()
            proc.wait(timeout=30)
            os.close(theirs_in)
            os.close(theirs_out)


@contextmanager
def open_page(browser: Pipe | None = None) -> Iterator[Page]:
    """A fresh blank tab in `browser` (or in a Chromium of its own); closed afterwards."""
    if browser is None:
        with launch() as own, open_page(own) as page:
            yield page
        return
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    page = Page(browser, session)
    try:
        page.send("Page.enable")
        yield page
    finally:
        browser.send("Target.closeTarget", targetId=target)
        browser.events = [e for e in browser.events if e.get("sessionId") != session]


def _load(page: Page, html: str, folder: Path, width: int, scale: float, dark: bool) -> None:
    path = folder / "email.html"
    # A BOM makes the encoding certain: css-inline puts <style> before <meta charset>.
    path.write_text("\ufeff" + html, encoding="utf-8")
    page.send(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=900,
        deviceScaleFactor=scale,
        mobile=width < 600,
    )
    page.send(
        "Emulation.setEmulatedMedia",
        media="screen",
        features=[{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}],
    )
    page.send("Page.navigate", url=path.as_uri())
    page.wait_for("Page.loadEventFired")


def measure(
    html: str, width: int, *, dark: bool = False, browser: Pipe | None = None
) -> dict[str, Any]:
    """innerWidth, scrollWidth, scrollHeight and the elements past the right edge at `width`,
    in a fresh tab of `browser` (or of a Chromium of its own)."""
    with tempfile.TemporaryDirectory() as tmp, open_page(browser) as page:
        _load(page, html, Path(tmp), width, 1.0, dark)
        result = page.send("Runtime.evaluate", expression=_MEASURE, returnByValue=True)
    return dict(json.loads(result["result"]["value"]))


def screenshot(
    html: str,
    width: int,
    out: Path,
    *,
    height: int | None = None,
    scale: float = 1.0,
    dark: bool = False,
    browser: Pipe | None = None,
) -> Path:
    """A PNG of the email `width` CSS pixels wide, the whole page or its top `height` pixels,
    taken in a fresh tab of `browser` (or of a Chromium of its own)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, open_page(browser) as page:
        _load(page, html, Path(tmp), width, scale, dark)
        size = json.loads(
            page.send("Runtime.evaluate", expression=_MEASURE, returnByValue=True)["result"][
                "value"
            ]
        )
        tall = min(size["scrollHeight"], height or size["scrollHeight"])
        shot = page.send(
            "Page.captureScreenshot",
            format="png",
            captureBeyondViewport=True,
            clip={"x": 0, "y": 0, "width": width, "height": tall, "scale": 1},
        )
    out.write_bytes(base64.b64decode(shot["data"]))
    return out
