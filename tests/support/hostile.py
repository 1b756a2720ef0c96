"""A reusable hostile HTTP server for tests: real sockets on 127.0.0.1 only, bounded, stops by itself.

Usage::

    from tests.support.hostile import HostileServer, json_body, redirect_to, echo_credentials, gzip_bomb

    with HostileServer() as api, HostileServer() as other:     # two origins (two ports)
        api.route("/v1/x", redirect_to(other.url + "/landing", 307))
        other.route("/landing", json_body({"ok": True}))
        ...  # point a hook at api.url + "/v1/"
        assert other.requests[0].headers.get("x-api-key") is None

A route maps an exact path (or a prefix ending in ``*``) and optionally a method to a *behaviour*:
``behaviour(handler, request)`` writes the whole answer through ``handler`` (a
``BaseHTTPRequestHandler``). Factories below cover the classic hostile answers; write your own for anything
else. Every request is recorded in ``server.requests`` (method, path, query, lower-cased headers, body).

Limits (so a broken test cannot hang or eat the machine): the server shuts down after ``lifetime``
seconds; every streaming behaviour stops after ``max_seconds`` or ``max_bytes`` or when the client goes
away; request bodies are read up to 64 MiB.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

Behaviour = Callable[["HostileHandler", "Recorded"], None]
MAX_REQUEST_BODY = 64 * 1024 * 1024
CREDENTIAL_HEADERS = ("authorization", "x-api-key", "api-key", "cookie", "proxy-authorization")


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    server_url: str = ""

    def credentials(self) -> dict[str, str]:
        """The credential-carrying headers this request arrived with."""
        return {k: v for k, v in self.headers.items() if k in CREDENTIAL_HEADERS}


@dataclass
class _Route:
    path: str
    behaviour: Behaviour
    method: str | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method:
            return False
        return path.startswith(self.path[:-1]) if self.path.endswith("*") else path == self.path


class HostileHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet test output
        return

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, MAX_REQUEST_BODY)) if length else b""

    def _read_chunked(self) -> bytes:
        out = bytearray()
        for _ in range(1_000_000):  # bounded
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                break
            out += self.rfile.read(size)
            self.rfile.readline()
            if len(out) > MAX_REQUEST_BODY:
                break
        return bytes(out)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        request = Recorded(
            method=self.command, path=parts.path, query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()}, body=self._read_body(),
            server_url=self.server.owner.url,
        )
        self.server.owner.requests.append(request)
        route = self.server.owner.find(request.method, request.path)
        if route is None:
            send(self, 404, json.dumps({"error": "no route", "path": request.path}).encode(), "application/json")
            return
        route.hits += 1
        try:
            route.behaviour(self, request)
        except OSError:  # the client went away (broken pipe, reset, timeout)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileServer


class HostileServer:
    """One origin (``http://127.0.0.1:<port>``) serving the routes you give it. Loopback only."""

    def __init__(self, *, lifetime: float = 120.0, host: str = "127.0.0.1") -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the hostile server binds loopback only")
        self._httpd = _Server((host, 0), HostileHandler)
        self._httpd.owner = self
        self.host, self.port = host, self._httpd.server_address[1]
        self.url = f"http://{host}:{self.port}"
        self.requests: list[Recorded] = []
        self.routes: list[_Route] = []
        self.lifetime = lifetime
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None
        self.stopping = threading.Event()

    # ---- lifecycle ----
    def start(self) -> HostileServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        if self._timer is not None:
            self._timer.cancel()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- routes ----
    def route(self, path: str, behaviour: Behaviour, *, method: str | None = None) -> _Route:
        """Serve ``behaviour`` at ``path`` (exact, or a prefix ending in ``*``); later routes win."""
        entry = _Route(path, behaviour, method.upper() if method else None)
        self.routes.insert(0, entry)
        return entry

    def find(self, method: str, path: str) -> _Route | None:
        return next((r for r in self.routes if r.matches(method, path)), None)

    def clear(self) -> None:
        self.routes.clear()
        self.requests.clear()

    def alias_url(self) -> str:
        """The same server under another origin name (``localhost`` <-> ``127.0.0.1``)."""
        other = "localhost" if self.host == "127.0.0.1" else "127.0.0.1"
        return f"http://{other}:{self.port}"


# ---- low-level writing -------------------------------------------------------------------------------
def send(handler: HostileHandler, status: int, body: bytes = b"", content_type: str | None = None,
         headers: dict[str, str] | None = None) -> None:
    """A complete answer with ``Content-Length``."""
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def _chunk(handler: HostileHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


# ---- behaviours --------------------------------------------------------------------------------------
def json_body(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    body = value if isinstance(value, bytes) else json.dumps(value).encode()
    return lambda h, r: send(h, status, body, "application/json", headers)


def raw_body(body: bytes | str, status: int = 200, content_type: str = "application/json",
             headers: dict[str, str] | None = None) -> Behaviour:
    """Exactly these bytes (hostile JSON: ``b'{"id": NaN}'``, ``b'[' * 100000``, invalid UTF-8 ...)."""
    data = body.encode() if isinstance(body, str) else body
    return lambda h, r: send(h, status, data, content_type, headers)


def redirect_to(location: str, status: int = 302) -> Behaviour:
    return lambda h, r: send(h, status, b"", None, {"Location": location})


def token_encodings(token: str) -> dict[str, str]:
    """The token in every encoding servers have been seen to echo it in (see core.redaction)."""
    b64 = base64.b64encode(token.encode()).decode()
    return {
        "raw": token,
        "quote": quote(token, safe=""),
        "quote_plus": quote_plus(token),
        "pct_upper": "".join(f"%{b:02X}" for b in token.encode()),
        "pct_lower": "".join(f"%{b:02x}" for b in token.encode()),
        "base64": b64,
        "base64_unpadded": b64.rstrip("="),
        "base64_urlsafe": base64.urlsafe_b64encode(token.encode()).decode().rstrip("="),
        "basic": base64.b64encode(f"user:{token}".encode()).decode(),
        "basic_api": base64.b64encode(f"api:{token}".encode()).decode(),
        "basic_long_user": base64.b64encode(f"longer-user:{token}".encode()).decode(),
        "json_u_lower": "".join(f"\\u{ord(c):04x}" for c in token),
        "json_u_upper": "".join(f"\\u{ord(c):04X}" for c in token),
        "json_slash": token.replace("/", "\\/"),
        "split_newline": token[: len(token) // 2] + "\n" + token[len(token) // 2 :],
        "split_spaces": " ".join(token[i : i + 5] for i in range(0, len(token), 5)),
        "truncated": token[: len(token) * 2 // 3],
    }


def received_token(request: Recorded) -> str:
    """The credential the request carried (bearer token, x-api-key, or the password of Basic auth)."""
    for name in ("x-api-key", "api-key", "authorization"):
        value = request.headers.get(name)
        if value:
            scheme, _, rest = value.partition(" ")
            if name != "authorization" or not rest:
                return value
            if scheme.lower() == "basic":
                return base64.b64decode(rest).decode("utf-8", "replace").partition(":")[2]
            return rest
    return ""


def echo_credentials(status: int = 401, encoding: str = "raw", *, as_json: bool = True) -> Behaviour:
    """An error answer quoting the credential it received, in ``encoding`` (a key of :func:`token_encodings`)."""

    def behaviour(h: HostileHandler, r: Recorded) -> None:
        token = received_token(r) or "no-token"
        text = token_encodings(token)[encoding]
        if as_json:
            body = ('{"error": "invalid token ' + text.replace("\n", "\\n") + '", "message": "rejected '
                    + text.replace("\n", "\\n") + '"}').encode()
            send(h, status, body, "application/json")
        else:
            send(h, status, f"rejected token {text}".encode(), "text/plain")

    return behaviour


def huge_body(size: int, *, status: int = 200, content_type: str = "application/json", announce: bool = True,
              max_seconds: float = 30.0) -> Behaviour:
    """``size`` bytes (``[`` then spaces: valid JSON start, never complete), streamed, bounded in time."""

    def behaviour(h: HostileHandler, r: Recorded) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        if announce:
            h.send_header("Content-Length", str(size))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        block, sent, stop = b"[" + b" " * 65535, 0, time.monotonic() + max_seconds
        while sent < size and time.monotonic() < stop and not h.server.owner.stopping.is_set():
            piece = block[: min(len(block), size - sent)]
            if announce:
                h.wfile.write(piece)
            else:
                _chunk(h, piece)
            sent += len(piece)
            block = b" " * 65536
        if not announce:
            h.wfile.write(b"0\r\n\r\n")
        h.close_connection = True

    return behaviour


def endless_chunked(*, status: int = 200, max_bytes: int = 4 * 1024**3, max_seconds: float = 30.0) -> Behaviour:
    """A chunked body that never ends (until the client leaves, ``max_bytes`` or ``max_seconds``)."""
    return huge_body(max_bytes, status=status, announce=False, max_seconds=max_seconds)


_BOMBS: dict[tuple[str, int], bytes] = {}


def bomb_bytes(encoding: str, decoded_size: int) -> bytes:
    """``decoded_size`` zero bytes compressed with ``gzip`` or ``deflate`` (zlib) - valid, built fast, cached.

    One 1 MiB block is compressed after a full flush (so every repetition has the same bytes) and repeated;
    the checksum trailer is computed for the whole size, so the body is a correct stream.
    """
    key = (encoding, decoded_size)
    if key in _BOMBS:
        return _BOMBS[key]
    block = 1024 * 1024
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    comp.compress(b"")
    segment_first = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    segment = comp.compress(b"\0" * block) + comp.flush(zlib.Z_FULL_FLUSH)
    count, rest = divmod(decoded_size, block)
    body = bytearray(segment_first if count else b"")
    body += segment * max(0, count - 1)
    body += comp.compress(b"\0" * rest) + comp.flush()
    crc, adler, zeros = 0, 1, b"\0" * block
    for _ in range(count):
        crc, adler = zlib.crc32(zeros, crc), zlib.adler32(zeros, adler)
    crc, adler = zlib.crc32(b"\0" * rest, crc), zlib.adler32(b"\0" * rest, adler)
    if encoding == "gzip":
        data = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + bytes(body)
        data += crc.to_bytes(4, "little") + (decoded_size & 0xFFFFFFFF).to_bytes(4, "little")
    else:
        data = b"\x78\xda" + bytes(body) + adler.to_bytes(4, "big")
    _BOMBS[key] = data
    return data


def compression_bomb(decoded_size: int = 1024**3, *, encoding: str = "gzip", status: int = 200,
                     content_type: str = "application/json", announce: bool = True) -> Behaviour:
    """A small body (about 1 MB per GiB) that decodes to ``decoded_size`` bytes of zeros."""
    data = bomb_bytes(encoding, decoded_size)
    headers = {"Content-Encoding": encoding}
    if announce:
        return lambda h, r: send(h, status, data, content_type, headers)

    def chunked(h: HostileHandler, r: Recorded) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Encoding", encoding)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for i in range(0, len(data), 65536):
            _chunk(h, data[i : i + 65536])
        h.wfile.write(b"0\r\n\r\n")

    return chunked


def slow_body(body: bytes = b'{"status": "ok"}', *, every: float = 5.0, step: int = 1, status: int = 200,
              max_seconds: float = 60.0, announce: bool = True) -> Behaviour:
    """Headers at once, then ``step`` bytes every ``every`` seconds (each gap shorter than a read timeout)."""

    def behaviour(h: HostileHandler, r: Recorded) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)) if announce else str(len(body) * 1000))
        h.end_headers()
        h.wfile.flush()
        stop = time.monotonic() + max_seconds
        for i in range(0, len(body) * (1 if announce else 1000), step):
            if time.monotonic() >= stop or h.server.owner.stopping.wait(every):
                break
            h.wfile.write((body * (1 if announce else 1000))[i : i + step])
            h.wfile.flush()
        h.close_connection = True

    return behaviour


def slow_headers(*, every: float = 5.0, max_seconds: float = 60.0) -> Behaviour:
    """The status line and then one header byte every ``every`` seconds: the answer never starts."""

    def behaviour(h: HostileHandler, r: Recorded) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        h.wfile.flush()
        stop = time.monotonic() + max_seconds
        for ch in b"X-Slow: " + b"y" * 10_000:
            if time.monotonic() >= stop or h.server.owner.stopping.wait(every):
                break
            h.wfile.write(bytes([ch]))
            h.wfile.flush()
        h.close_connection = True

    return behaviour


def sequence(*behaviours: Behaviour) -> Behaviour:
    """The n-th request gets the n-th behaviour (the last one repeats)."""
    state = {"n": 0}

    def behaviour(h: HostileHandler, r: Recorded) -> None:
        index = min(state["n"], len(behaviours) - 1)
        state["n"] += 1
        behaviours[index](h, r)

    return behaviour


def nested_json(depth: int = 100_000) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


HOSTILE_JSON: dict[str, bytes] = {
    "nan": b'{"id": NaN, "status": "done"}',
    "infinity": b'{"id": Infinity}',
    "neg_infinity": b'{"id": -Infinity}',
    "overflow_float": b'{"id": 1e999}',
    "deep_object": nested_json(100_000),
    "deep_array": b"[" * 100_000 + b"]" * 100_000,
    "invalid_utf8": b'{"id": "\xff\xfe\xfa"}',
    "truncated": b'{"id": "abc", "status": ',
    "html": b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>",
}


def wrong_shapes() -> Iterable[tuple[str, bytes]]:
    """JSON of the wrong type where an object is expected (each a valid JSON document)."""
    for name, value in {"list": [], "list_of_lists": [[1]], "string": "x", "number": 3, "null": None,
                        "true": True, "meta_string": {"meta": "x", "data": "y"}}.items():
        yield name, json.dumps(value).encode()


@dataclass
class Origins:
    """Two hostile servers (two origins) for redirect tests; ``a`` is the API, ``b`` the foreign origin."""

    a: HostileServer = field(default_factory=HostileServer)
    b: HostileServer = field(default_factory=HostileServer)

    def __enter__(self) -> Origins:
        self.a.start()
        self.b.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.a.stop()
        self.b.stop()
