"""Render a page in headless Chromium and report what a reader would see.

Talks the DevTools protocol over ``--remote-debugging-pipe`` (Chromium reads commands on
fd 3 and writes replies on fd 4, NUL-separated JSON), so it needs nothing beyond the
standard library: no websocket client, no free port. Collects console messages, uncaught
exceptions and log entries (e.g. a resource that failed to load), evaluates a script in
the page, and takes a screenshot of the first screen.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--remote-debugging-pipe"]


@dataclass
class PageReport:
    console: list[dict[str, Any]] = field(default_factory=list)
    """Console API calls (every level) and log entries: {"level", "text"}."""
    exceptions: list[str] = field(default_factory=list)
    value: Any = None
    """What the evaluated expression returned."""
    screenshot: bytes = b""

    @property
    def errors(self) -> list[str]:
        return self.exceptions + [m["text"] for m in self.console if m["level"] in ("error", "assert")]


class _Pipe:
    def __init__(self, proc: subprocess.Popen, write_fd: int, read_fd: int):
        self.proc, self.w, self.r = proc, write_fd, read_fd
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30) -> dict:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self.read(timeout)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def read(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise RuntimeError(f"chromium closed the pipe (exit code {self.proc.poll()})")
                self.buf += chunk
        raw, _, self.buf = self.buf.partition(b"\0")
        return json.loads(raw)

    def wait_event(self, method: str, timeout: float) -> dict:
        for i, e in enumerate(self.events):
            if e.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self.read(max(0.01, deadline - time.monotonic()))
            if m.get("method") == method:
                return m
            self.events.append(m)


def render(path: Path, expression: str, *, width: int = 1280, height: int = 800, timeout: float = 60,
           settle: float = 0.3, clip: str | None = None) -> PageReport:
    """Open ``path`` at ``width``×``height``, wait for the load event, evaluate ``expression``
    (its JSON-serialisable value is returned) and screenshot the first screen, or the
    ``height`` pixels from the top of the element matching the CSS selector ``clip``."""
    cmd_r, cmd_w = os.pipe()  # we write commands, chromium reads them on fd 3
    out_r, out_w = os.pipe()  # chromium writes replies on fd 4
    # Move the child's ends above 10 first, so the dup2 to 3 and 4 cannot clobber one another.
    hi_r, hi_w = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)

    def child_fds() -> None:
        os.dup2(hi_r, 3)
        os.dup2(hi_w, 4)

    with tempfile.TemporaryDirectory(prefix="zoo-chromium-") as profile:
        proc = subprocess.Popen([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                preexec_fn=child_fds, close_fds=False)
        for fd in (cmd_r, out_w, hi_r, hi_w):
            os.close(fd)
        pipe = _Pipe(proc, cmd_w, out_r)
        report = PageReport()
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)["targetId"]
            sid = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                pipe.send(f"{domain}.enable", session=sid)
            pipe.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=sid)
            pipe.send("Page.navigate", {"url": path.resolve().as_uri()}, session=sid)
            pipe.wait_event("Page.loadEventFired", timeout)
            time.sleep(settle)  # let late console messages arrive
            res = pipe.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True}, session=sid)
            if "exceptionDetails" in res:
                raise RuntimeError(f"evaluation failed: {res['exceptionDetails']}")
            report.value = res["result"].get("value")
            params: dict[str, Any] = {"format": "png"}
            if clip:
                top = pipe.send("Runtime.evaluate", {"expression": f"document.querySelector({json.dumps(clip)})"
                                                     ".getBoundingClientRect().top + scrollY", "returnByValue": True},
                                session=sid)["result"]["value"]
                params.update(clip={"x": 0, "y": top, "width": width, "height": height, "scale": 1},
                              captureBeyondViewport=True)
            shot = pipe.send("Page.captureScreenshot", params, session=sid)
            report.screenshot = base64.b64decode(shot["data"])
            # drain what is left, then collect console output and errors
            try:
                while True:
                    pipe.events.append(pipe.read(0.2))
            except TimeoutError:
                pass
            for e in pipe.events:
                m, p = e.get("method"), e.get("params", {})
                if m == "Runtime.consoleAPICalled":
                    text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                    report.console.append({"level": p.get("type", "log"), "text": text})
                elif m == "Log.entryAdded":
                    entry = p.get("entry", {})
                    report.console.append({"level": entry.get("level", "info"), "text": entry.get("text", "") +
                                           (f" ({entry['url']})" if entry.get("url") else "")})
                elif m == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    report.exceptions.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            try:
                pipe.send("Browser.close", timeout=5)
            except (RuntimeError, TimeoutError):
                pass
        finally:
            os.close(cmd_w)
            os.close(out_r)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return report


PAGE_CHECK = """(() => {
  const imgs = [...document.images].map(i => ({alt: i.alt.slice(0, 60), complete: i.complete,
                                               width: i.naturalWidth, height: i.naturalHeight}));
  const v = document.getElementById('verdict');
  const t = document.getElementById('verdict-table');
  const r = e => e ? e.getBoundingClientRect().toJSON() : null;
  return {images: imgs, verdict: r(v), verdictTable: r(t), viewport: [innerWidth, innerHeight],
          title: document.title, height: document.documentElement.scrollHeight,
          details: document.querySelectorAll('details').length,
          openTables: [...document.querySelectorAll('table')].filter(t => t.checkVisibility())
                        .map(t => t.rows.length)};
})()"""
