"""Real extra processes of our own (a second api), started the way production starts them."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from devstack import free_port

STUDYMATE = str(Path(sys.executable).parent / "studymate")


@asynccontextmanager
async def api_process(**env: str) -> AsyncIterator[str]:
    """`studymate api` in a subprocess on a free port, with the tests' environment; yields its URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        STUDYMATE,
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_until_healthy(url, process)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()


# A fresh process imports the whole app (and the AI and Stripe SDKs): over 30 s on a loaded 2-core machine.
START_TIMEOUT_SECONDS = 120


async def _wait_until_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=url) as http, asyncio.timeout(START_TIMEOUT_SECONDS):
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"studymate api exited with {process.returncode}")
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
