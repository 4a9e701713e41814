"""ASGI middleware that guards the app before any request reaches Starlette's routing."""

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import ErrorCode


class _BodyTooLarge(Exception):
    pass


async def _refuse_too_large(send: Send, max_bytes: int) -> None:
    error = {
        "message": f"The request body is larger than {max_bytes} bytes",
        "extensions": {"code": ErrorCode.PAYLOAD_TOO_LARGE.value},
    }
    body = json.dumps({"errors": [error]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuses an HTTP request body over `max_bytes` with 413 and a GraphQL error body.

    A declared Content-Length over the limit is refused at once; the body is also counted as it streams
    in, so a missing or false Content-Length (chunked uploads) buys nothing: the request fails as soon
    as one byte too many has arrived, and nothing beyond the limit is ever held in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await _refuse_too_large(send, self.max_bytes)
            return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLarge:
            if response_started:
                # Only a streaming app reads its body after answering; ours never does.
                raise
            await _refuse_too_large(send, self.max_bytes)
