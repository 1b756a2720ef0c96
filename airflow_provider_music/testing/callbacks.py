"""The emulator's callback sender (Riffusion ``replyUrl``, ACRCloud ``callback_url``, AudioShake
``callbackUrl``/webhooks, FlowMusic ``replyUrl``): JSON POSTs to LOOPBACK listeners only.

* :func:`send_callback` - fire and forget from a background thread; returns the delivery record at once.
* :func:`deliver` - the same, awaited (``await deliver(url, payload)`` inside an emulator handler).

A URL whose host is not 127.0.0.0/8, ``::1`` or ``localhost`` (or not http/https) is refused and recorded;
nothing leaves the machine: no redirect is followed and no proxy is used, whatever ``http_proxy`` /
``HTTP_PROXY`` / ``ALL_PROXY`` say. Each POST has a short timeout and a few bounded retries (connection errors and
5xx). Every delivery is recorded by the emulator state (``state.snapshot()["callbacks"]``,
``GET /_emulator/state``) so tests can assert what was sent where.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

DEFAULT_TIMEOUT = 5.0
DEFAULT_ATTEMPTS = 3
RETRY_PAUSE = 0.2
#: Records kept per sender (oldest dropped first).
MAX_RECORDS = 10_000


def is_loopback_host(host: str | None) -> bool:
    """127.0.0.0/8, ``::1`` or ``localhost`` (nothing that could leave the machine)."""
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Delivery:
    """One callback: what was sent where, and what happened (``pending`` -> ``delivered``/``failed``/``refused``)."""

    url: str
    payload: Any
    api: str | None = None
    state: str = "pending"
    http_status: int | None = None
    attempts: int = 0
    error: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    created: float = field(default_factory=time.time)
    finished: float | None = None

    @property
    def delivered(self) -> bool:
        return self.state == "delivered"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "delivered": self.delivered}


class CallbackSender:
    """Sends and records callbacks; one per emulator state."""

    def __init__(self) -> None:
        self.records: list[Delivery] = []
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self.records]

    def reset(self) -> None:
        with self._lock:
            self.records.clear()

    def _record(self, url: str, payload: Any, api: str | None) -> Delivery:
        record = Delivery(url=url, payload=payload, api=api)
        with self._lock:
            self.records.append(record)
            del self.records[:-MAX_RECORDS]
        return record

    def send(self, url: str, payload: Any, *, api: str | None = None, timeout: float = DEFAULT_TIMEOUT,
             attempts: int = DEFAULT_ATTEMPTS, headers: Mapping[str, str] | None = None) -> Delivery:
        """Record the callback and POST it from a daemon thread; returns the (live) record at once."""
        record = self._record(url, payload, api)
        if self._refuse(record):
            return record
        thread = threading.Thread(target=self._post, args=(record, timeout, attempts, dict(headers or {})),
                                  daemon=True, name="music-emulator-callback")
        thread.start()
        return record

    async def deliver(self, url: str, payload: Any, *, api: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                      attempts: int = DEFAULT_ATTEMPTS, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Record and POST the callback without blocking the event loop; returns the finished record."""
        record = self._record(url, payload, api)
        if not self._refuse(record):
            await asyncio.to_thread(self._post, record, timeout, attempts, dict(headers or {}))
        return record.as_dict()

    def wait(self, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``count`` records are finished (tests); returns the snapshot."""
        deadline = time.monotonic() + timeout
        with self._done:
            while sum(r.state != "pending" for r in self.records) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._done.wait(left)
        return self.snapshot()

    def _refuse(self, record: Delivery) -> bool:
        parts = urlsplit(record.url)
        if parts.scheme in ("http", "https") and is_loopback_host(parts.hostname):
            return False
        self._finish(record, "refused", error="not sent: callbacks go to loopback http(s) URLs only")
        return True

    def _finish(self, record: Delivery, state: str, *, status: int | None = None, error: str | None = None) -> None:
        with self._done:
            record.state, record.http_status, record.error = state, status, error
            record.finished = time.time()
            self._done.notify_all()

    def _post(self, record: Delivery, timeout: float, attempts: int, headers: dict[str, str]) -> None:
        body = json.dumps(record.payload).encode()
        error: str | None = None
        status: int | None = None
        for attempt in range(1, max(1, attempts) + 1):
            record.attempts = attempt
            try:
                status = _post_once(record.url, body, headers, timeout)
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"[:200]
            else:
                self._finish(record, "delivered", status=status)
                return
            if status is not None and status < 500:
                break  # the listener answered: retrying cannot change a 4xx
            time.sleep(RETRY_PAUSE * attempt)
        self._finish(record, "failed", status=status, error=error)


def _post_once(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback http(s) only, checked before
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    # no redirect (it could point off the machine) and NEVER a proxy: http_proxy/HTTP_PROXY/ALL_PROXY would
    # carry a loopback callback and its payload to the proxy host (an empty ProxyHandler ignores them)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    with opener.open(request, timeout=timeout) as answer:
        return int(answer.status)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_CURRENT: list[CallbackSender] = [CallbackSender()]


def current_sender() -> CallbackSender:
    """The sender of the most recently created emulator state (one emulator per process is the norm)."""
    return _CURRENT[-1]


def set_current_sender(sender: CallbackSender) -> None:
    _CURRENT[-1] = sender


def _sender(state: Any) -> CallbackSender:
    sender = getattr(state, "callbacks", None) if state is not None else None
    return sender if isinstance(sender, CallbackSender) else current_sender()


def send_callback(url: str, payload: Any, *, state: Any = None, api: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT, attempts: int = DEFAULT_ATTEMPTS,
                  headers: Mapping[str, str] | None = None) -> Delivery:
    """POST ``payload`` as JSON to the loopback ``url`` from a background thread; returns the record."""
    return _sender(state).send(url, payload, api=api, timeout=timeout, attempts=attempts, headers=headers)


async def deliver(url: str, payload: Any, *, state: Any = None, api: str | None = None,
                  timeout: float = DEFAULT_TIMEOUT, attempts: int = DEFAULT_ATTEMPTS,
                  headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Awaitable :func:`send_callback`: returns the finished record as a dict (``state``, ``http_status``...)."""
    return await _sender(state).deliver(url, payload, api=api, timeout=timeout, attempts=attempts, headers=headers)
