"""ASGI middleware that guards the app before any request reaches Starlette's routing."""

import ipaddress
import json
from collections.abc import Iterable, Sequence

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


# How many hops of X-Forwarded-For are looked at, from the right; a longer chain is a forgery anyway.
_MAX_FORWARDED_HOPS = 16
# The longest textual IPv6 address, with brackets and a port, is well under this.
_MAX_ADDRESS_LENGTH = 64
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(cidrs: Iterable[str]) -> list[Network]:
    """The TRUSTED_PROXIES setting as networks; a bare address is a network of one."""
    return [ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip()]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from a forwarded hop (`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1`),
    or None when the hop is not one."""
    text = text.strip()
    if not text or len(text) > _MAX_ADDRESS_LENGTH:
        return None
    port = ""
    if text.startswith("[") and "]" in text:
        text, _, port = text[1:].partition("]")
        port = port.removeprefix(":") or "0"
    elif text.count(":") == 1:
        text, _, port = text.partition(":")
    if port and not port.isdigit():
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_client(peer: str, forwarded_for: str, trusted: Sequence[Network]) -> str:
    """The client address of a request that reached us from `peer` with this X-Forwarded-For.

    Only a trusted proxy's word counts: walking the chain from the right (the hop nearest to us), each
    trusted hop hands over to the address it names, and the first untrusted one is the client. A hop
    that is not an address ends the walk at the last trusted one.
    """
    current = _address(peer)
    if current is None or not any(current in network for network in trusted):
        return peer
    client = str(current)
    for hop in reversed(forwarded_for.rsplit(",", _MAX_FORWARDED_HOPS)[-_MAX_FORWARDED_HOPS:]):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


class ForwardedClient:
    """Sets the request's client address (and scheme) from X-Forwarded-For/-Proto, but only when the
    connection comes from one of `trusted` (TRUSTED_PROXIES, empty by default): anyone else could
    otherwise pick the address that rate limits count them under."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and scope["type"] in ("http", "websocket") and client:
            headers = Headers(scope=scope)
            forwarded_for = ",".join(headers.getlist("x-forwarded-for"))
            if forwarded_for:
                host = forwarded_client(client[0], forwarded_for, self.trusted)
                if host != client[0]:
                    scope = {**scope, "client": (host, 0)}
                    proto = headers.get("x-forwarded-proto", "").strip().lower()
                    if proto in ("http", "https"):
                        secure = proto == "https"
                        websocket = scope["type"] == "websocket"
                        scope["scheme"] = ("wss" if secure else "ws") if websocket else proto
        await self.app(scope, receive, send)
