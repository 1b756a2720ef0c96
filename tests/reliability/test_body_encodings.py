"""Content-Encoding of JSON answers, sync and async: what the libraries decode (urllib3 / aiohttp, each
bounded per read: core/bodies.py) and what is refused. Gzip bombs are in test_hostile_transport_bounds.py."""

from __future__ import annotations

import asyncio
import json
import zlib
from typing import Any

import pytest

from airflow_provider_music.core.errors import InvalidResponseError
from tests.support.hooks import hook_cases, make_hook
from tests.support.hostile import HostileServer, send

CLS, EXTRAS = [c for _, *c in hook_cases()][-1]
DOC = json.dumps({"ok": "x" * 200}).encode()
GZ = zlib.compress(DOC, wbits=31)


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


UNSUPPORTED = "unsupported Content-Encoding"
#: name -> (Content-Encoding, body, sync outcome, async outcome); an outcome is "decoded" or an error's text
CASES: dict[str, tuple[str, bytes, str, str]] = {
    "identity": ("identity", DOC, "decoded", "decoded"),
    "gzip": ("gzip", GZ, "decoded", "decoded"),
    "GZIP upper case": ("GZIP", GZ, "decoded", "decoded"),
    "gzip, two members": ("gzip", zlib.compress(DOC[:50], wbits=31) + zlib.compress(DOC[50:], wbits=31),
                          "decoded", "decoded"),
    "deflate (zlib)": ("deflate", zlib.compress(DOC), "decoded", "decoded"),
    "deflate (raw)": ("deflate", _raw_deflate(DOC), "decoded", "decoded"),
    # never asked for: urllib3 decodes it, aiohttp has no decoder for it
    "x-gzip": ("x-gzip", GZ, "decoded", UNSUPPORTED),
    "unknown": ("snappy", DOC, UNSUPPORTED, UNSUPPORTED),
    "br": ("br", b"\x0b\x02\x80{}\x03", UNSUPPORTED, UNSUPPORTED),
    "zstd": ("zstd", b"(\xb5/\xfd\x00X\x11\x00\x00{}", UNSUPPORTED, UNSUPPORTED),
    "stacked": ("gzip, gzip", zlib.compress(GZ, wbits=31), UNSUPPORTED, UNSUPPORTED),
    "corrupt gzip": ("gzip", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + b"\xff" * 500,
                     "corrupt gzip body", "corrupt gzip body"),
    "corrupt deflate": ("deflate", b"\x78\x9c" + b"\xff" * 500, "corrupt deflate body", "corrupt deflate body"),
    "truncated gzip": ("gzip", GZ[:-12], "malformed JSON", "malformed JSON"),
}


@pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("name", list(CASES))
def test_json_answer_encoding_is_decoded_or_refused_naming_the_call(monkeypatch, name, use_async):
    encoding, body, sync_outcome, async_outcome = CASES[name]
    expected = async_outcome if use_async else sync_outcome
    with HostileServer() as api:
        hook = make_hook(monkeypatch, CLS, api.url + "/v1/", "tok-ENCODING-1234567890", dict(EXTRAS))
        api.route("/v1/x", lambda h, r: send(h, 200, body, "application/json", {"Content-Encoding": encoding}))

        def call() -> Any:
            return asyncio.run(hook.arequest_json("GET", "x")) if use_async else hook.request_json("GET", "x")

        if expected == "decoded":
            assert call() == json.loads(DOC)
            return
        with pytest.raises(InvalidResponseError) as err:
            call()
    assert expected in str(err.value)
    assert "GET /v1/x" in str(err.value)
    assert "tok-ENCODING" not in repr(err.value)
