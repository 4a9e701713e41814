"""One server child process on a free port of 127.0.0.1: the base of every embedded server.

Each server runs as a child process on a free port, never a standard one, so it cannot collide with a
system service. Its output goes to a log file, never the terminal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, ClassVar

import psutil

READY_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
# Another process can grab the free port between our probe and the server's bind.
_PORT_ATTEMPTS = 3


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


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


class Server:
    """One server child process, subclassed per server.

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


def tcp_exchange(port: int, request: bytes) -> bytes:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            if request:
                sock.sendall(request)
                return sock.recv(64)
            return b"connected"
    except OSError:
        return b""
