"""core.redaction: one scrubber for secrets in every encoding (raw, URL, base64 at every alignment, JSON, split)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_music.core.errors import InvalidResponseError, ServerError
from airflow_provider_music.core.redaction import describe_body, redact, redact_data, register_secret

SECRETS = ["tok-SECRET-5f1c9e2a-do-not-log", "Ab/+9z==x7Yq:pw", "ключ-секрет-42", "s3cr3t🎵token"]


def _forms(secret: str) -> dict[str, str]:
    data = secret.encode()
    forms = {
        "raw": secret,
        "quote": quote(secret, safe=""),
        "quote_default": quote(secret),
        "quote_plus": quote_plus(secret),
        "pct_upper": "".join(f"%{b:02X}" for b in data),
        "pct_lower": "".join(f"%{b:02x}" for b in data),
        "double_pct": quote(quote(secret, safe=""), safe=""),
        "json_dumps": json.dumps(secret)[1:-1],
        "json_ascii": json.dumps(secret, ensure_ascii=True)[1:-1],
        "json_all_u": _all_u(secret, "x"),
        "json_all_U": _all_u(secret, "X"),
        "json_slash": secret.replace("/", "\\/"),
        "split_newline": secret[:5] + "\n" + secret[5:],
        "split_crlf_indent": secret[:7] + "\r\n    " + secret[7:],
        "split_json_newline": secret[:6] + "\\n" + secret[6:],
        "b64": base64.b64encode(data).decode(),
        "b64_unpadded": base64.b64encode(data).decode().rstrip("="),
        "b64_urlsafe": base64.urlsafe_b64encode(data).decode(),
        "b64_urlsafe_unpadded": base64.urlsafe_b64encode(data).decode().rstrip("="),
        "basic": base64.b64encode(b"user:" + data).decode(),
        "b64_mime_wrapped": "\n".join(
            base64.b64encode(b"xx" + data).decode()[i : i + 8] for i in range(0, len(base64.b64encode(b"xx" + data)), 8)
        ),
    }
    for align in range(3):
        for pad in range(3):
            blob = b"p" * (10 + align) + data + b"s" * pad + b"-trailing"
            forms[f"b64_embedded_{align}_{pad}"] = base64.b64encode(blob).decode()
            forms[f"b64url_embedded_{align}_{pad}"] = base64.urlsafe_b64encode(blob).decode().rstrip("=")
    return forms


def _all_u(secret: str, case: str) -> str:
    """Every character as a JSON \\u escape (astral characters as surrogate pairs)."""
    units = secret.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04{case}}" for i in range(0, len(units), 2))


def _leaks(secret: str, text: str) -> list[str]:
    data = secret.encode()
    cores = [base64.b64encode(b"\0" * a + data).decode()[4:-4] for a in range(3)]
    probes = [secret, secret[:8], quote(secret, safe="")[:12], *[c[:10] for c in cores if len(c) > 12]]
    return [p for p in probes if p and p in text]


CASES = [(s, name, form) for s in SECRETS for name, form in _forms(s).items()]


@pytest.mark.parametrize(("secret", "name", "form"), CASES, ids=[f"{i}-{c[1]}" for i, c in enumerate(CASES)])
def test_every_encoding_is_scrubbed(secret, name, form):
    text = f'{{"error": "bad credential {form} given", "hint": "retry"}}'
    out = redact(text, secret)
    assert "***" in out, (name, out)
    assert not _leaks(secret, out), (name, out)
    assert "bad credential" in out and "retry" in out  # the rest of the message stays readable


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("cut", [8, 12, 20])
def test_truncated_secret_at_the_end_is_scrubbed(secret, cut):
    text = f"answer: {{'token': '{secret}'}}"[: len("answer: {'token': '") + cut]
    assert secret[:8] not in redact(text, secret)


def test_nothing_else_is_touched():
    text = "GET /v1/songs failed with HTTP 500: internal error (request id abc-123)"
    assert redact(text, SECRETS) == text
    assert redact("", SECRETS) == "" and redact(None, SECRETS) is None
    assert redact("abc", "abc") == "abc"  # too short to scrub safely


def test_registered_secrets_scrub_every_provider_error():
    register_secret("reg-TOKEN-91f0c2aa7e")
    err = ServerError("upstream said reg-TOKEN-91f0c2aa7e", api_message="reg-TOKEN-91f0c2aa7e",
                      details={"echo": ["reg-TOKEN-91f0c2aa7e"], "reg-TOKEN-91f0c2aa7e": 1})
    assert "reg-TOKEN" not in str(err) + repr(err.args) + str(err.api_message) + json.dumps(err.details)
    wrapped = InvalidResponseError(f"shape {str({'t': 'reg-TOKEN-91f0c2aa7e'})[:25]}")
    assert "reg-TOKEN" not in str(wrapped)


def test_redact_data_and_describe_body():
    assert redact_data({"a": ["x tok-SECRET-5f1c9e2a-do-not-log"]}, SECRETS[0]) == {"a": ["x ***"]}
    assert describe_body({"t": SECRETS[0], "pad": "y" * 500}, 40, SECRETS[0]).endswith("...")
    assert SECRETS[0][:8] not in describe_body({"t": SECRETS[0]}, 20, SECRETS[0])
