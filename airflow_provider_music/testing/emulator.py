"""An offline emulator of the provider's HTTP APIs (Riffusion, ACRCloud, AudioShake, FlowMusic, Mureka).

One FastAPI app serves every API listed in :mod:`airflow_provider_music.testing.apis` under its real path
prefix (Riffusion ``/v1/riffusion/``, ACRCloud ``/api/`` and ``/v1/identify``, AudioShake ``/upload``,
``/job``, ``/assets``, ``/tasks``, FlowMusic ``/v1/flowmusic/``, Mureka ``/v1/mureka/``).

The frame in this module gives every API the same machinery: bearer-token checks, uploads spooled to a
temporary directory (streamed, never held whole in memory), a clock that moves jobs through their states
after configurable delays, per-route fault injection (error status with a rate, 429 with ``Retry-After``,
latency, dropped connections, HTML or truncated bodies) and request counters. Control it from Python
(:class:`EmulatorState`) or over HTTP under ``/_emulator/``.

Run it: ``python -m airflow_provider_music.testing.emulator`` (127.0.0.1, port :data:`DEFAULT_PORT` = 8590,
which no Airflow component uses by default; ``--port`` or ``MUSIC_EMULATOR_PORT`` picks another) prints the
``export AIRFLOW_CONN_...`` lines for every API; ``--print-env`` prints only those lines and exits, so
``eval "$(python -m airflow_provider_music.testing.emulator --print-env)"`` works in the shell of every
Airflow process (scheduler, triggerer, workers). A port already taken fails at once with one line naming it.

The APIs served are listed once, in :mod:`airflow_provider_music.testing.apis`; callbacks go through
:mod:`airflow_provider_music.testing.callbacks` (loopback only, recorded in the state snapshot).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import errno
import hashlib
import json
import os
import random
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from airflow_provider_music.testing.apis import (  # connection_json & co re-exported for old imports
    APIS,
    BEARER,
    DEFAULT_TOKEN,
    Credential,
    connection_json,  # noqa: F401
    default_connection_extras,  # noqa: F401
    export_lines,
)
from airflow_provider_music.testing.callbacks import CallbackSender, is_loopback_host, set_current_sender

#: Path prefix of each API inside the emulator (derived from THE list in :mod:`.apis`).
API_BASE_PATHS = {entry.name: entry.prefix for entry in APIS}
#: Modules that add each API's routes: ``register(app, state)`` (derived from :mod:`.apis`).
API_MODULES = tuple(entry.module for entry in APIS)


@dataclass
class FaultRule:
    """A fault injected on requests whose method and path match.

    :param path: regular expression searched in the request path (``""`` matches every path).
    :param method: HTTP method to match, or ``None`` for any.
    :param status: answer with this status instead of calling the API (``None``: only latency).
    :param rate: probability (0..1) that a matching request is hit.
    :param times: hit at most this many requests, then the rule retires (``None``: unlimited).
    :param retry_after: value of the ``Retry-After`` header to send.
    :param latency: seconds to wait before answering (or before calling the API).
    :param drop: send headers and part of a body, then close the connection.
    :param after: apply ``status``/``drop`` AFTER the API processed the request (the work is done, the answer
        is lost) - what a client sees when a create succeeded but the response never arrived.
    :param body: body to send with ``status`` (default: a JSON error in the API's style).
    :param content_type: content type of ``body``.
    """

    path: str = ""
    method: str | None = None
    status: int | None = None
    rate: float = 1.0
    times: int | None = None
    retry_after: str | None = None
    latency: float = 0.0
    drop: bool = False
    after: bool = False
    body: str | None = None
    content_type: str = "application/json"
    hits: int = 0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return re.search(self.path, path) is not None


@dataclass
class Spooled:
    """An uploaded body stored on disk."""

    path: str
    size: int
    sha256: str
    content_type: str = ""
    filename: str = ""

    def read_bytes(self) -> bytes:
        with open(self.path, "rb") as fh:
            return fh.read()


class EmulatorState:
    """All mutable state of one emulator: tokens, settings, faults, counters, per-API stores."""

    def __init__(
        self,
        *,
        tokens: set[str] | None = None,
        job_seconds: float = 0.3,
        seed: int = 1234,
        settings: dict[str, Any] | None = None,
    ) -> None:
        self.tokens = set(tokens or {DEFAULT_TOKEN})
        self.job_seconds = job_seconds
        self.settings: dict[str, Any] = dict(settings or {})
        #: What :meth:`reset` returns to: the start-up settings (``--setting``, ``settings=``) and job_seconds.
        self.startup_settings: dict[str, Any] = copy.deepcopy(self.settings)
        self.startup_job_seconds = job_seconds
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.spool_dir = tempfile.mkdtemp(prefix="music-emulator-")
        self.faults: list[FaultRule] = []
        self.request_counts: Counter[str] = Counter()  # "METHOD /path"
        self.route_counts: Counter[str] = Counter()  # "METHOD /route/{template}"
        self.clients: set[tuple[str, int]] = set()
        self.apis: dict[str, Any] = {}
        self.base_url = ""
        self._resetters: list[Callable[[], None]] = []
        self._setting_listeners: list[Callable[[], None]] = []
        #: Callbacks (replyUrl, webhooks...) sent by the APIs: :mod:`airflow_provider_music.testing.callbacks`.
        self.callbacks = CallbackSender()
        set_current_sender(self.callbacks)

    # ---- clock --------------------------------------------------------------------------
    @staticmethod
    def now() -> float:
        return time.time()

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)

    def job_delay(self, api: str) -> float:
        """Seconds a job of ``api`` stays in progress (``<api>.job_seconds`` or the global value)."""
        return float(self.settings.get(f"{api}.job_seconds", self.job_seconds))

    # ---- auth ---------------------------------------------------------------------------
    def credential_ok(self, request: Request, credential: Credential = BEARER) -> bool:
        """Does ``request`` carry an accepted token the way ``credential`` says it arrives?"""
        token = credential.token_from(request.headers)
        return token is not None and token in self.tokens

    def bearer_ok(self, request: Request, *, header: str = "Authorization") -> bool:
        scheme = "Bearer" if header.lower() == "authorization" else None
        return self.credential_ok(request, Credential(header=header, scheme=scheme))

    # ---- uploads ------------------------------------------------------------------------
    def _spool_path(self) -> str:
        return os.path.join(self.spool_dir, uuid.uuid4().hex)

    async def spool_request_body(self, request: Request) -> Spooled:
        """Stream the raw request body to disk."""
        path = self._spool_path()
        digest = hashlib.sha256()
        size = 0
        with open(path, "wb") as fh:
            async for chunk in request.stream():
                if chunk:
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
        return Spooled(path=path, size=size, sha256=digest.hexdigest(), content_type=request.headers.get("content-type", ""))

    async def spool_upload(self, upload: Any) -> Spooled:
        """Move a multipart ``UploadFile`` (already spooled by the parser) into the spool."""
        path = self._spool_path()

        def copy() -> tuple[int, str]:
            digest = hashlib.sha256()
            size = 0
            upload.file.seek(0)
            with open(path, "wb") as out:
                while True:
                    chunk = upload.file.read(1024 * 1024)
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            return size, digest.hexdigest()

        size, sha = await asyncio.to_thread(copy)
        return Spooled(
            path=path,
            size=size,
            sha256=sha,
            content_type=getattr(upload, "content_type", "") or "",
            filename=getattr(upload, "filename", "") or "",
        )

    def spool_bytes(self, data: bytes, *, content_type: str = "", filename: str = "") -> Spooled:
        path = self._spool_path()
        with open(path, "wb") as fh:
            fh.write(data)
        return Spooled(path=path, size=len(data), sha256=hashlib.sha256(data).hexdigest(), content_type=content_type, filename=filename)

    # ---- faults and counters ------------------------------------------------------------
    def add_fault(self, **kwargs: Any) -> FaultRule:
        rule = FaultRule(**kwargs)
        with self.lock:
            self.faults.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def pick_fault(self, method: str, path: str) -> FaultRule | None:
        with self.lock:
            for rule in self.faults:
                if rule.matches(method, path) and self.rng.random() < rule.rate:
                    rule.hits += 1
                    return rule
        return None

    def count(self, method: str, path_or_route: str) -> int:
        """How many requests ``METHOD path`` (exact path, or route template like ``/job/{job_id}``)."""
        key = f"{method.upper()} {path_or_route}"
        return self.request_counts.get(key, 0) + (
            self.route_counts.get(key, 0) if key not in self.request_counts else 0
        )

    def on_reset(self, func: Callable[[], None]) -> None:
        """Register a per-API reset hook (called by :meth:`reset`)."""
        self._resetters.append(func)

    def on_settings(self, func: Callable[[], None]) -> None:
        """Register a per-API hook called after ``PATCH /_emulator/settings`` changed settings."""
        self._setting_listeners.append(func)

    def settings_changed(self) -> None:
        with self.lock:
            for func in self._setting_listeners:
                func()

    def reset(self) -> None:
        """Back to the state at start-up: every job, upload, fault, counter and callback record forgotten, and
        the settings (``PATCH /_emulator/settings``) and ``job_seconds`` back to the start-up ones (those
        given with ``--setting`` / ``--job-seconds`` / ``EmulatorState(settings=...)``). Tokens stay."""
        with self.lock:
            self.faults.clear()
            self.request_counts.clear()
            self.route_counts.clear()
            self.clients.clear()
            self.settings.clear()
            self.settings.update(copy.deepcopy(self.startup_settings))
            self.job_seconds = self.startup_job_seconds
            for func in self._resetters:
                func()
        self.settings_changed()  # every API re-reads its settings (e.g. FlowMusic's job_seconds)
        self.callbacks.reset()
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        os.makedirs(self.spool_dir, exist_ok=True)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "request_counts": dict(self.request_counts),
                "route_counts": dict(self.route_counts),
                "connections": len(self.clients),
                "faults": [asdict(f) for f in self.faults],
                "settings": dict(self.settings),
                "job_seconds": self.job_seconds,
                "callbacks": self.callbacks.snapshot(),
            }


class FaultAndCountMiddleware:
    """Pure ASGI middleware: counts requests and client connections, injects configured faults."""

    def __init__(self, app: Any, state: EmulatorState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        with self.state.lock:
            self.state.request_counts[f"{method} {path}"] += 1
            if scope.get("client"):
                self.state.clients.add(tuple(scope["client"]))
        rule = self.state.pick_fault(method, path)
        if rule is not None:
            if rule.latency:
                await asyncio.sleep(rule.latency)
            if rule.after and (rule.drop or rule.status is not None):

                async def swallow(message: dict[str, Any]) -> None:  # the API's real answer is lost
                    return None

                await self.app(scope, receive, swallow)
                self._count_route(scope, method)
                await self._fault_response(rule, send)
                return
            if rule.drop or rule.status is not None:
                await _drain(receive)
                await self._fault_response(rule, send)
                return
        await self.app(scope, receive, send)
        self._count_route(scope, method)

    async def _fault_response(self, rule: FaultRule, send: Any) -> None:
        if rule.drop:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"partial": "', "more_body": True})
            return  # the server closes the connection: the client sees a truncated body
        status = rule.status or 500
        body = (rule.body if rule.body is not None else json.dumps(
            {"error": f"Injected fault {status}", "code": status})).encode()
        headers = [(b"content-type", rule.content_type.encode()), (b"content-length", str(len(body)).encode())]
        if rule.retry_after is not None:
            headers.append((b"retry-after", str(rule.retry_after).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _count_route(self, scope: dict[str, Any], method: str) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None)
        if template:
            with self.state.lock:
                self.state.route_counts[f"{method} {template}"] += 1


async def _drain(receive: Any) -> None:
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            return


def create_app(state: EmulatorState | None = None) -> FastAPI:
    """Build the emulator app; every API module registers its routes on it."""
    import importlib

    state = state or EmulatorState()
    app = FastAPI(title="airflow-provider-music emulator", docs_url="/_emulator/docs", openapi_url="/_emulator/openapi.json")
    app.state.emulator = state

    @app.get("/_emulator/state")
    def get_state() -> dict[str, Any]:
        return state.snapshot()

    @app.post("/_emulator/faults")
    def post_fault(rule: dict[str, Any]) -> dict[str, Any]:
        return asdict(state.add_fault(**rule))

    @app.delete("/_emulator/faults")
    def delete_faults() -> Response:
        state.clear_faults()
        return Response(status_code=204)

    @app.post("/_emulator/reset")
    def post_reset() -> Response:
        """Back to the start-up state: jobs, uploads, faults, counters, callbacks AND settings (to the start-up
        ones, ``--setting`` included). Tokens stay."""
        state.reset()
        return Response(status_code=204)

    @app.patch("/_emulator/settings")
    async def patch_settings(values: dict[str, Any]) -> dict[str, Any]:  # async: listeners may set timers
        if "job_seconds" in values:
            state.job_seconds = float(values.pop("job_seconds"))
        state.settings.update(values)
        state.settings_changed()
        return state.snapshot()

    @app.post("/_emulator/sink")
    async def sink(request: Request) -> dict[str, Any]:
        """Stream any body to disk and report its size and digest (upload tests and benchmarks)."""
        spooled = await state.spool_request_body(request)
        os.unlink(spooled.path)
        return {"size": spooled.size, "sha256": spooled.sha256, "content_type": spooled.content_type}

    @app.get("/_emulator/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    for entry in APIS:  # THE list of APIs (testing/apis.py)
        importlib.import_module(entry.module).register(app, state)

    app.add_exception_handler(404, _not_found)
    return FaultAndCountMiddleware(app, state)  # type: ignore[return-value]


async def _not_found(request: Request, exc: Exception) -> Response:
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return JSONResponse(detail, status_code=404)
    return JSONResponse({"error": str(detail or "Not Found"), "code": 404}, status_code=404)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ``::1`` or ``localhost``."""
    return is_loopback_host(host)


def require_credential(*credentials: Credential, deny: Callable[[], Exception] | None = None) -> Callable[..., Any]:
    """THE shared auth dependency: ``APIRouter(dependencies=[Depends(require_credential(BEARER, deny=...))])``.

    The request must carry an accepted token in one of the ways ``credentials`` list (default: bearer);
    otherwise ``deny()`` is raised (the API's own 401 error), or a plain 401.
    """
    accepted = credentials or (BEARER,)

    async def dependency(request: Request) -> None:
        state: EmulatorState = request.app.state.emulator
        if any(state.credential_ok(request, c) for c in accepted):
            return
        if deny is not None:
            raise deny()
        from fastapi import HTTPException

        raise HTTPException(status_code=401, detail={"error": "Unauthorized", "code": 401})

    return dependency


#: the emulator's default port: none of Airflow's defaults (api-server 8080, worker log server 8793, triggerer
#: log server 8794, scheduler health check 8974, StatsD 8125, Celery Flower 5555; tests/core/test_emulator_cli.py)
DEFAULT_PORT = 8590
#: environment variable overriding :data:`DEFAULT_PORT` (for both the server and ``--print-env``)
PORT_ENV = "MUSIC_EMULATOR_PORT"


def default_port(environ: Mapping[str, str] | None = None) -> int:
    """``$MUSIC_EMULATOR_PORT`` when set (an integer 0-65535), else :data:`DEFAULT_PORT`."""
    raw = (os.environ if environ is None else environ).get(PORT_ENV, "").strip()
    if not raw:
        return DEFAULT_PORT
    if not raw.isdigit() or int(raw) > 65535:
        raise ValueError(f"{PORT_ENV}={raw!r} is not a port number (0-65535)")
    return int(raw)


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int) -> str:
    """The emulator's base URL for ``host``/``port`` (IPv6 literals in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "music emulator").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default ${PORT_ENV} or {DEFAULT_PORT}, clear of Airflow's ports); 0 picks a free one")
    parser.add_argument("--token", action="append", help=f"accepted API token (repeatable; default {DEFAULT_TOKEN})")
    parser.add_argument("--job-seconds", type=float, default=2.0, help="seconds a job stays in progress")
    parser.add_argument("--setting", action="append", default=[], metavar="KEY=JSON", help="emulator setting")
    parser.add_argument("--allow-remote", action="store_true", help="allow binding a non-loopback address")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--print-env", action="store_true",
                        help="print only the 'export AIRFLOW_CONN_...' lines for --host/--port and exit "
                             "(eval \"$(python -m airflow_provider_music.testing.emulator --print-env)\")")
    return parser


def _settings(items: list[str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            settings[key] = json.loads(raw)
        except ValueError:
            settings[key] = raw
    return settings


def _bind_or_explain(host: str, port: int) -> socket.socket | None:
    """The listening socket, or None after one line on stderr saying which port is taken and what to do."""
    try:
        return bind_socket(host, port)
    except OSError as exc:
        if exc.errno not in (errno.EADDRINUSE, errno.EACCES):
            raise
        why = "is already in use" if exc.errno == errno.EADDRINUSE else "may not be bound by this user"
        print(f"music emulator: port {port} on {host} {why}; choose another with --port N (or {PORT_ENV}=N; "
              f"--port 0 picks a free one) and run --print-env with the same port", file=sys.stderr, flush=True)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(f"refusing to bind non-loopback address {args.host!r}; pass --allow-remote to do it anyway")
    if args.port is None:
        try:
            args.port = default_port()
        except ValueError as exc:
            parser.error(str(exc))
    token = (args.token or [DEFAULT_TOKEN])[0]
    if args.print_env:
        if args.port == 0:
            parser.error("--print-env needs a fixed --port (0 picks a free port only when the server starts)")
        print("\n".join(export_lines(url_for(args.host, args.port), token=token)), flush=True)
        return 0
    sock = _bind_or_explain(args.host, args.port)  # first: a taken port fails before anything else starts
    if sock is None:
        return 2
    import uvicorn

    host, port = sock.getsockname()[:2]
    state = EmulatorState(tokens=set(args.token or [DEFAULT_TOKEN]), job_seconds=args.job_seconds,
                          settings=_settings(args.setting))
    state.base_url = url_for(host, port)
    app = create_app(state)
    print(f"music emulator listening on {state.base_url}", flush=True)
    print("\n".join(export_lines(state.base_url, token=token)), flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, lifespan="off", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
