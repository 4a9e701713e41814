"""How the fan-out runs a send: in place while it does not have to wait, the rest in a task."""

import asyncio

import pytest

from schema.fanout.channels import _start


async def test_a_send_that_never_waits_runs_in_place_without_a_task() -> None:
    done: list[str] = []

    async def send() -> None:
        done.append("sent")

    # When the send is started
    rest = _start(send())
    # Then it has run to its end, here, and nothing is left to wait for
    assert (rest, done) == (None, ["sent"])


async def test_a_send_that_waits_goes_on_in_a_task_with_what_it_waited_for() -> None:
    writable: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    done: list[str] = []

    async def send() -> None:
        done.append("started")
        done.append(await writable)

    # Given a send that has to wait for its socket
    rest = _start(send())
    assert rest is not None and done == ["started"]
    # When the socket takes frames again
    writable.set_result("sent")
    # Then the send finishes in its task
    await asyncio.wait_for(rest, timeout=5)
    assert done == ["started", "sent"]


async def test_cancelling_a_waiting_send_reaches_the_send() -> None:
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def send() -> None:
        try:
            await never
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    # Given a send waiting in its task
    rest = _start(send())
    assert rest is not None
    await asyncio.sleep(0)
    # When the task is cancelled, the send sees it
    rest.cancel()
    with pytest.raises(asyncio.CancelledError):
        await rest
    assert seen == ["cancelled"]


async def test_a_send_that_fails_in_place_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    async def send() -> None:
        raise RuntimeError("socket gone")

    assert _start(send()) is None
    assert "sending a frame failed" in caplog.text
