"""Debian's Chromium, headless, driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: commands on its fd 3, answers and events on its fd 4, each a JSON
message ended by a NUL byte). Enough of the protocol to open a page, collect its console
errors, exceptions and requests, evaluate expressions in it and take a screenshot. Every
wait has a deadline; the browser runs as root (--no-sandbox) in a profile folder of its
own, removed with it."""

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time

CHROMIUM = "/usr/bin/chromium"


class BrowserError(Exception):
    pass


def _as_fds_3_and_4(reading, writing):
    """In the child, before exec: the pipe's ends where the protocol wants them. Each goes
    above every low number first, so that neither overwrites the other on its way."""
    high_reading = fcntl.fcntl(reading, fcntl.F_DUPFD, 100)
    high_writing = fcntl.fcntl(writing, fcntl.F_DUPFD, 100)
    os.dup2(high_reading, 3)
    os.dup2(high_writing, 4)
    os.close(high_reading)
    os.close(high_writing)


class Chromium:
    """with Chromium() as browser: browser.open(url); browser.evaluate(...); browser.screenshot(path)"""

    def __init__(self, width=1400, height=900, timeout_s=30.0, session_s=180.0):
        if not os.access(CHROMIUM, os.X_OK):
            raise BrowserError(f"{CHROMIUM} is missing: apt-get install chromium (ci/setup.sh lists it)")
        self.timeout_s = timeout_s
        self.session_end = time.monotonic() + session_s  # no wait goes past it, however many there are
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="tcpfault-chromium-")
        self.log_path = os.path.join(self.profile, "chromium.log")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
                "about:blank"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([CHROMIUM, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                            preexec_fn=lambda: _as_fds_3_and_4(to_browser_r, from_browser_w),
                                            pass_fds=(3, 4), start_new_session=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events = []
        self.session = None

    # ---- the protocol ----

    def _send(self, method, params=None, session=True):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        return self._next_id

    def _read(self, deadline):
        """The next message, or BrowserError once the deadline passes or the browser is gone."""
        while b"\0" not in self._buffer:
            left = min(deadline, self.session_end) - time.monotonic()
            if left <= 0:
                raise BrowserError(f"no answer from Chromium in time (at most {self.timeout_s} s a wait and "
                                   f"the session's deadline){self._log_tail()}")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise BrowserError(f"Chromium closed its pipe (exit status {self.process.poll()})"
                                       f"{self._log_tail()}")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=True):
        """Sends a command and waits for its answer, keeping the events that come first."""
        ident = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._read(deadline)
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method):
        """Waits for an event of this page (one seen already counts)."""
        deadline = time.monotonic() + self.timeout_s
        seen = [e for e in self.events if e["method"] == method]
        while not seen:
            message = self._read(deadline)
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    seen.append(message)
        return seen[0]["params"]

    # ---- what a test asks ----

    def open(self, url):
        """A new page at `url`, waited for until its load event."""
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        self.events.clear()
        self.call("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression):
        """The JSON value of a JavaScript expression in the page; an exception is an error."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self):
        """Console errors, uncaught exceptions and browser log errors seen so far, as text."""
        self.evaluate("0")  # a round trip: the events sent before it are in
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append("exception: " + details.get("exception", {}).get("description", details.get("text", "")))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    def requests(self):
        """The URLs the page asked for."""
        return [e["params"]["request"]["url"] for e in self.events if e["method"] == "Network.requestWillBeSent"]

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        with open(path, "wb") as out:
            out.write(base64.b64decode(data))

    # ---- the end ----

    def _log_tail(self):
        try:
            with open(self.log_path, errors="replace") as log:
                tail = log.read()[-2000:]
        except OSError:
            return ""
        return f"; its log ends:\n{tail}" if tail.strip() else ""

    def close(self):
        try:
            if self.process.poll() is None:
                try:
                    self._send("Browser.close", session=False)
                    self.process.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    # Its renderers and helpers are in the session it leads: end them all.
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=10)
        finally:
            os.close(self._to_browser)
            os.close(self._from_browser)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
