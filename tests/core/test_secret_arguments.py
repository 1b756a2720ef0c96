"""Every credential handed to a hook method is scrubbed like the connection's token (issue 21 §3).

A 400 that echoed a FlowMusic refresh token put it raw in the exception text: the hook had told Airflow's
masker about it but not the package's own scrubber. One registration point now does both
(:func:`airflow_provider_music.core.redaction.register_secret`); hook methods declare their credential
arguments with ``@secret_arguments(...)``. The class under test: EVERY hook method that takes a credential
(found by its parameter names, not listed by hand) is declared, and a hostile server echoing the credential
in a 400, in every encoding the scrubber covers, gets it into no exception text, log record or repr.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from typing import Any

import pytest

from airflow_provider_music.core.errors import MusicApiError
from airflow_provider_music.core.redaction import register_secret, secret_arguments
from tests.support.hooks import hook_classes, make_hook
from tests.support.hostile import HostileServer, send, token_encodings

#: Parameter names that carry a credential (what a reviewer would call a secret argument).
SECRET_NAME = re.compile(r"token|secret|cookie|passw|api_?key|credential|private_?key", re.IGNORECASE)
CONN_TOKEN = "conn-token-7d1e55aa-not-this-one"
HANDED = "handed-SECRET-91b3c7e0/+x=="


def _secret_methods() -> list[tuple[str, type[Any], str, tuple[str, ...]]]:
    out = []
    for cls in hook_classes():
        for name, func in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            params = [p for p in inspect.signature(func).parameters if p != "self"]
            secret = tuple(p for p in params if SECRET_NAME.search(p))
            if secret:
                out.append((f"{cls.__name__}.{name}", cls, name, secret))
    return out


SECRET_METHODS = _secret_methods()


def test_the_audit_finds_the_known_credential_arguments():
    found = {label: names for label, _, _, names in SECRET_METHODS}
    assert found.get("FlowMusicHook.add_account") == ("refresh_token",)
    assert found.get("RiffusionHook.create_account") == ("cookie",)


@pytest.mark.parametrize(("label", "cls", "method", "names"), SECRET_METHODS, ids=[m[0] for m in SECRET_METHODS])
def test_every_credential_argument_is_declared(label, cls, method, names):
    declared = getattr(getattr(cls, method), "__secret_arguments__", ())
    missing = [n for n in names if n not in declared]
    assert not missing, f"{label}: declare {missing} with @secret_arguments(...) (core/redaction.py)"


def _echo_everything(h: Any, r: Any) -> None:
    """A 400 quoting every encoding of the handed secret found in the request body (JSON or form)."""
    text = r.body.decode("utf-8", "replace")
    forms = token_encodings(HANDED)
    echoed = " | ".join(v.replace("\n", "\\n") for v in forms.values()) if HANDED in text else "nothing"
    body = json.dumps({"error": f"bad credential {echoed}", "message": f"rejected {echoed}",
                       "details": {"got": text[:2000]}}).encode()
    send(h, 400, body, "application/json")


def _call(hook: Any, method: str, names: tuple[str, ...]) -> Any:
    func = getattr(hook, method)
    params = inspect.signature(func).parameters
    required = [p for p, spec in params.items() if spec.default is inspect.Parameter.empty
                and spec.kind not in (spec.VAR_POSITIONAL, spec.VAR_KEYWORD) and p not in names]
    assert not required, f"{method}: give the test a sample for {required}"
    return func(**{n: HANDED for n in names})


@pytest.mark.parametrize(("label", "cls", "method", "names"), SECRET_METHODS, ids=[m[0] for m in SECRET_METHODS])
def test_a_hostile_400_echoing_a_handed_secret_leaks_it_nowhere(monkeypatch, caplog, capsys, label, cls, method,
                                                                names):
    caplog.set_level(logging.DEBUG)
    with HostileServer() as server:
        server.route("/*", _echo_everything)
        hook = make_hook(monkeypatch, cls, server.url + "/", CONN_TOKEN)
        with pytest.raises(MusicApiError) as caught:
            _call(hook, method, names)
        assert any(HANDED in r.body.decode("utf-8", "replace") for r in server.requests), "the secret was sent"
    exc = caught.value
    texts = [str(exc), repr(exc), exc.message, str(exc.api_message), json.dumps(exc.details, default=str),
             *map(str, exc.args), *(r.getMessage() for r in caplog.records),
             *(str(r.exc_info[1]) for r in caplog.records if r.exc_info),
             capsys.readouterr().out]  # hook loggers are structlog (stdout) on Airflow 3
    for text in texts:
        for encoding, form in token_encodings(HANDED).items():
            if encoding != "split_spaces":  # five-character pieces are not the secret any more
                assert form not in text, f"{label}: {encoding} form of the handed secret in {text[:300]!r}"


def test_airflow_masker_hides_a_handed_secret_too():
    from tests.support.masker import airflow_secrets_masker

    register_secret("airflow-side-" + HANDED)
    assert "airflow-side-" + HANDED not in airflow_secrets_masker()._secrets_masker().redact(f"x airflow-side-{HANDED} y")


def test_the_decorator_registers_stripped_and_async_arguments():
    from airflow_provider_music.core.redaction import known_secrets

    @secret_arguments("token")
    def sync(token: str, other: str = "") -> str:
        return token

    @secret_arguments("token")
    async def coro(*, token: str) -> str:
        return token

    assert sync("  padded-secret-1234  ") == "  padded-secret-1234  "
    assert "padded-secret-1234" in known_secrets() and "  padded-secret-1234  " in known_secrets()
    import asyncio

    asyncio.run(coro(token="async-secret-5678"))
    assert "async-secret-5678" in known_secrets()
    assert sync.__secret_arguments__ == ("token",) and coro.__secret_arguments__ == ("token",)
    assert inspect.iscoroutinefunction(coro)
