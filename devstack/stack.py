"""Postgres, Redis and Kafka for `studymate dev`, the tests and the benchmarks: embedded servers for the
components whose environment variable is unset, the given URLs for the others."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import ClassVar

from devstack.kafka import EmbeddedKafka
from devstack.postgres import EmbeddedPostgres
from devstack.redis import EmbeddedRedis
from devstack.server import Server


def _ignore(_message: str) -> None:
    return None


class EmbeddedStack:
    """Starts the embedded servers whose environment variable is unset; passes the others through."""

    ENV_VARS: ClassVar[tuple[str, ...]] = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")

    def __init__(self, data_dir: Path, *, persistent: bool, log: Callable[[str], None] = _ignore) -> None:
        self.data_dir = data_dir.resolve()
        self.persistent = persistent
        self.log = log
        self.urls: dict[str, str] = {}
        self.servers: dict[str, Server] = {}
        self._exit_stack = ExitStack()

    def _server_for(self, env_var: str) -> Server:
        if env_var == "DATABASE_URL":
            return EmbeddedPostgres(self.data_dir / "postgres", durable=self.persistent)
        if env_var == "REDIS_URL":
            return EmbeddedRedis(self.data_dir / "redis", persistent=self.persistent)
        return EmbeddedKafka(self.data_dir)

    def start(self) -> dict[str, str]:
        try:
            for env_var in self.ENV_VARS:
                given = os.environ.get(env_var)
                if given:
                    self.log(f"{env_var} is set; using it")
                    self.urls[env_var] = given
                    continue
                server = self._server_for(env_var)
                self.log(f"starting embedded {server.name}")
                url = server.start()
                self._exit_stack.callback(self._stop_server, server)
                self.servers[env_var] = server
                self.urls[env_var] = url
                self.log(f"embedded {server.name} ready at {url} (log: {server.log_path})")
        except BaseException:
            self.stop()
            raise
        return dict(self.urls)

    def _stop_server(self, server: Server) -> None:
        self.log(f"stopping embedded {server.name}")
        server.stop()

    def stop(self) -> None:
        self._exit_stack.close()
        self.servers.clear()

    def dead(self) -> list[str]:
        """Names of started servers whose process has exited."""
        return [server.name for server in self.servers.values() if not server.is_running]

    def __enter__(self) -> dict[str, str]:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
