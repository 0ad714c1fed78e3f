"""Headless Chromium driven over the DevTools protocol, with the standard library only.

``Browser`` starts ``/usr/bin/chromium --headless --remote-debugging-port=0`` on a profile of its own
and reads the port from the profile's ``DevToolsActivePort`` file; ``Page`` is one tab, spoken to
through a minimal WebSocket client (RFC 6455: masked text frames out; text, continuation, ping and
close frames in). Every event the page sends is kept in ``Page.events``, so a test can look for
console errors, uncaught exceptions and network requests after the page has loaded. ``Browser.new_context``
makes a context with cookies of its own (one per person signed in to a web board), and
``Browser.new_page(context)`` a tab in it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0",
)
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TIMEOUT = 60.0


class WebSocket:
    """A client connection to ``ws://host:port/path`` (no TLS, no extensions)."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        assert url.startswith("ws://"), url
        address, _, path = url[len("ws://"):].partition("/")
        host, _, port = address.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /{path} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError(f"no WebSocket handshake from {url}: {response!r}")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        expected = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] or f"sec-websocket-accept: {expected}".lower() not in head.decode().lower():
            raise ConnectionError(f"WebSocket handshake refused by {url}: {lines[0]}")

    def _exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        header = bytes([0x80 | opcode])
        size = len(payload)
        if size < 126:
            header += bytes([0x80 | size])
        elif size < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", size)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", size)
        mask = os.urandom(4)  # a client masks every frame
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, message: str) -> None:
        self._send_frame(0x1, message.encode())

    def receive(self) -> str:
        """The next whole text message (answering pings on the way)."""
        parts: list[bytes] = []
        while True:
            first, second = self._exactly(2)
            opcode, size = first & 0x0F, second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._exactly(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._exactly(8))
            mask = self._exactly(4) if second & 0x80 else b""
            payload = self._exactly(size)
            if mask:
                payload = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("the browser closed the DevTools connection")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                parts.append(payload)
                if first & 0x80:
                    return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(0x8, b"")
        self.sock.close()


class Page:
    """One tab: ``call`` sends a DevTools command and returns its result; events are kept."""

    def __init__(self, websocket_url: str, target_id: str) -> None:
        self.target_id = target_id
        self.ws = WebSocket(websocket_url)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            if "method" in message:
                self.events.append(message)

    def wait_for(self, event: str, timeout: float = TIMEOUT, since: int = 0) -> dict[str, Any]:
        """The first ``event`` kept from ``since`` on (an index into ``events``), waited for if need be."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.events[since:]:
                if message["method"] == event:
                    return message
            message = json.loads(self.ws.receive())
            if "method" in message:
                self.events.append(message)
        raise TimeoutError(f"no {event} within {timeout} s")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (returned by value, as JSON)."""
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def navigate(self, url: str) -> int:
        """Go to ``url`` and wait until it has loaded; the index in ``events`` where this visit's own begin."""
        since = len(self.events)
        answer = self.call("Page.navigate", url=url)
        if answer.get("errorText"):
            raise RuntimeError(f"{url}: {answer['errorText']}")
        self.wait_for("Page.loadEventFired", since=since)
        self.evaluate("document.readyState")  # one more round trip: events sent while loading are in
        return since

    def close(self) -> None:
        self.ws.close()


class Browser:
    """A headless Chromium process of this test's own, on its own profile, stopped by ``close``."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self.log = (profile / "chromium.log").open("wb")
        self.session: Page | None = None  # the connection to the browser itself, opened when first needed
        self.process = subprocess.Popen(
            [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + TIMEOUT
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"Chromium did not open its DevTools port; see {profile / 'chromium.log'}")
            time.sleep(0.1)
        port, path = active.read_text().splitlines()[:2]
        self.port = int(port)
        self.browser_path = path  # the browser's own endpoint: contexts and targets

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """A DevTools command to the browser itself (Target.*), not to a tab."""
        if self.session is None:
            self.session = Page(f"ws://127.0.0.1:{self.port}{self.browser_path}", "browser")
        return self.session.call(method, **params)

    def new_context(self) -> str:
        """A browser context of its own (cookies, storage), like a separate incognito window."""
        return str(self.call("Target.createBrowserContext")["browserContextId"])

    def new_page(self, context: str | None = None) -> Page:
        if context is not None:
            target_id = self.call("Target.createTarget", url="about:blank", browserContextId=context)["targetId"]
            return Page(f"ws://127.0.0.1:{self.port}/devtools/page/{target_id}", target_id)
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            target = json.load(response)
        return Page(target["webSocketDebuggerUrl"], target["id"])

    def close_page(self, page: Page) -> None:
        """Close the tab (its connection first)."""
        page.close()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/close/{page.target_id}", timeout=TIMEOUT):
            pass

    def close(self) -> None:
        if self.session is not None:
            self.session.close()
            self.session = None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
