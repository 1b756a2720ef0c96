"""Run the emulator in a background thread (tests, notebooks) and point connections at it."""

from __future__ import annotations

import errno
import json
import threading
import time
from typing import Any

from airflow_provider_music.testing.apis import APIS as API_ENTRIES
from airflow_provider_music.testing.apis import DEFAULT_TOKEN, api, env_for, export_lines
from airflow_provider_music.testing.emulator import (
    EmulatorState,
    FaultRule,
    bind_socket,
    create_app,
    is_loopback,
    url_for,
)

#: Names of the emulated APIs (THE list is :data:`airflow_provider_music.testing.apis.APIS`).
APIS = tuple(entry.name for entry in API_ENTRIES)


class EmulatorServer:
    """The emulator on a free loopback port, served by uvicorn in a daemon thread.

    >>> with EmulatorServer() as emu:
    ...     os.environ.update(emu.env())
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = DEFAULT_TOKEN,
        allow_remote: bool = False,
        **state_kwargs: Any,
    ) -> None:
        if not is_loopback(host) and not allow_remote:
            raise ValueError(
                f"refusing to bind the emulator to non-loopback address {host!r}; pass allow_remote=True to do it anyway"
            )
        self.host = host
        self.port = port
        self.token = token
        self.state = EmulatorState(tokens={token}, **state_kwargs)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._initial_settings = dict(self.state.settings)
        self._initial_job_seconds = self.state.job_seconds

    @property
    def url(self) -> str:
        """The emulator's base URL (``http://127.0.0.1:<port>``)."""
        return url_for(self.host, self.port)

    def start(self) -> EmulatorServer:
        """Bind the port (``0``: a free one), serve in a daemon thread and wait until it answers; returns self."""
        import uvicorn

        try:
            sock = bind_socket(self.host, self.port)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise OSError(exc.errno, f"music emulator: port {self.port} on {self.host} is already in use; pass "
                                     "another port= (0 picks a free one)") from None
        self.port = sock.getsockname()[1]
        self.state.base_url = self.url
        app = create_app(self.state)
        config = uvicorn.Config(app, log_level="error", lifespan="off", access_log=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="music-emulator")
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("music emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- control ------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all jobs, uploads, faults and counters; restore the start-up settings."""
        self.state.reset()
        self.state.settings.clear()
        self.state.settings.update(self._initial_settings)
        self.state.job_seconds = self._initial_job_seconds

    def add_fault(self, **kwargs: Any) -> FaultRule:
        """Inject a fault (the arguments of ``POST /_emulator/faults``: ``path``, ``status``, ``times``, ...)."""
        return self.state.add_fault(**kwargs)

    def count(self, method: str, path_or_route: str) -> int:
        """How many ``method`` requests reached ``path_or_route`` (an exact path, or a route template such as
        ``/job/{job_id}``) since the last reset."""
        return self.state.count(method, path_or_route)

    # ---- connections --------------------------------------------------------------------
    def connection(self, api_name: str, /, *, token: str | None = None, **extra: Any) -> str:
        """``AIRFLOW_CONN_*`` JSON for a connection of API ``api_name`` pointing at this emulator."""
        return json.dumps(api(api_name).connection(self.url, token=token or self.token, **extra))

    def env(self, *, token: str | None = None) -> dict[str, str]:
        """``AIRFLOW_CONN_<CONN_ID>`` for every emulated API."""
        return env_for(self.url, token=token or self.token)

    def export_lines(self, *, token: str | None = None) -> list[str]:
        """The ``export AIRFLOW_CONN_...=...`` shell lines for every emulated API."""
        return export_lines(self.url, token=token or self.token)

    @property
    def callbacks(self) -> Any:
        """The callbacks the APIs sent (:class:`~airflow_provider_music.testing.callbacks.CallbackSender`)."""
        return self.state.callbacks
