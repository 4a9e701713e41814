"""A small local HTTP server speaking the OpenAI and Anthropic wire formats, for the real SDKs.

Tests script its answers in order (`reply`, `fail`, `stall`); when the script is empty it answers with
`default`, a function of the prompt. Every request body is kept, so a test can check what left for an
LLM, with the client port it came from (`peers`: a reused connection keeps its port). Asked with tools
(Anthropic's forced tool call), an answer that is a JSON object comes back as the tool's input.
"""

import asyncio
import json
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core.settings import get_settings
from devstack import free_port
from tests.helpers.servers import serving

Answer = Callable[[str], str]


@dataclass(frozen=True)
class Scripted:
    text: str | None = None
    status: int = 200
    delay: float = 0.0


@dataclass
class FakeAiServer:
    default: Answer = lambda prompt: '{"ok": true}'
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)
    script: deque[Scripted] = field(default_factory=deque)
    port: int = 0

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, text: str) -> None:
        self.script.append(Scripted(text=text))

    def fail(self, status: int) -> None:
        self.script.append(Scripted(status=status))

    def stall(self, seconds: float) -> None:
        """Answer only after `seconds`: longer than the client's timeout, it is a timeout."""
        self.script.append(Scripted(delay=seconds))

    def prompts(self) -> list[str]:
        return [json.dumps(body, ensure_ascii=False) for _, body in self.requests]

    async def _answer(self, api: str, request: Request) -> tuple[Scripted, str]:
        body = await request.json()
        self.requests.append((api, body))
        self.peers.append(request.client.port if request.client else 0)
        scripted = self.script.popleft() if self.script else Scripted()
        if scripted.delay:
            await asyncio.sleep(scripted.delay)
        prompt = _user_prompt(api, body)
        return scripted, scripted.text if scripted.text is not None else self.default(prompt)

    async def chat_completions(self, request: Request) -> JSONResponse:
        scripted, text = await self._answer("openai", request)
        if scripted.status != 200:
            error = {"error": {"message": "scripted failure", "type": "server_error", "code": None}}
            return JSONResponse(error, status_code=scripted.status)
        model = (await request.json())["model"]
        return JSONResponse(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
            }
        )

    async def messages(self, request: Request) -> JSONResponse:
        scripted, text = await self._answer("anthropic", request)
        if scripted.status != 200:
            error = {"type": "error", "error": {"type": "overloaded_error", "message": "scripted failure"}}
            return JSONResponse(error, status_code=scripted.status)
        body = await request.json()
        content: dict[str, Any] = {"type": "text", "text": text}
        tool_input = _json_object(text) if body.get("tools") else None
        if tool_input is not None:
            name = body["tools"][0]["name"]
            content = {"type": "tool_use", "id": "toolu_fake", "name": name, "input": tool_input}
        return JSONResponse(
            {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [content],
                "stop_reason": "tool_use" if tool_input is not None else "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 13, "output_tokens": 5},
            }
        )


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _user_prompt(api: str, body: dict[str, Any]) -> str:
    messages = body.get("messages", [])
    users = [m["content"] for m in messages if m.get("role") == "user"]
    content = users[-1] if users else ""
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content)
    return str(content)


@asynccontextmanager
async def fake_ai_server(default: Answer | None = None) -> AsyncIterator[FakeAiServer]:
    fake = FakeAiServer(port=free_port())
    if default is not None:
        fake.default = default
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", fake.chat_completions, methods=["POST"]),
            Route("/v1/messages", fake.messages, methods=["POST"]),
        ]
    )
    async with serving(app, fake.port):
        yield fake


def point_providers_at(monkeypatch: pytest.MonkeyPatch, fake: FakeAiServer) -> pytest.MonkeyPatch:
    """Every provider pointed at the fake server, without keys; each test grants the keys it needs."""
    settings = get_settings()
    monkeypatch.setattr(settings, "openai_base_url", fake.openai_url)
    monkeypatch.setattr(settings, "anthropic_base_url", fake.anthropic_url)
    monkeypatch.setattr(settings, "together_base_url", fake.openai_url)
    monkeypatch.setattr(settings, "ai_timeout_seconds", 0.3)
    monkeypatch.setattr(settings, "ai_max_retries", 0)
    return monkeypatch


def grant(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Gives the named providers a key, so they are configured."""
    for name in names:
        monkeypatch.setattr(get_settings(), f"{name}_api_key", f"test-{name}-key")
