"""Providers: who answers a chat prompt. One protocol, one real implementation.

`ChatCompletions` speaks the OpenAI-compatible `POST {endpoint}/chat/completions` protocol that
llama.cpp's server, vLLM, Ollama (`/v1`) and hosted services share, with the standard library's
HTTP client: no SDK to install, and the request is exactly what the code below builds.

Every way a call can go wrong (timeout, refused connection, HTTP 429/5xx, a body that is not the
protocol's JSON) becomes a `ProviderError` whose `kind` the report counts and whose message is one
line, never containing the API key.
"""

from __future__ import annotations

import ipaddress
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Message = Mapping[str, str]  # {"role": "system" | "user", "content": ...}
MAX_ANSWER_BYTES = 8 * 2**20  # a few rewrites of one kernel; anything larger is not an answer


@dataclass(frozen=True)
class Completion:
    """What a model answered: the text of each choice, and what it cost."""

    texts: tuple[str, ...]
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ProviderError(Exception):
    """A failed call. `kind`: timeout | connection | http | malformed | budget | config."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return self.message


class Provider(Protocol):
    model: str

    def complete(self, messages: Sequence[Message]) -> Completion: ...


@dataclass(frozen=True)
class ChatCompletions:
    """An OpenAI-compatible chat-completion endpoint, e.g. `http://127.0.0.1:8080/v1`."""

    endpoint: str
    model: str
    timeout: float = 60.0
    temperature: float = 0.0
    max_tokens: int | None = 4096  # completion tokens per answer
    api_key_env: str = "OPTC_LLM_API_KEY"

    @property
    def url(self) -> str:
        base = self.endpoint.rstrip("/")
        return base if base.endswith("/chat/completions") else f"{base}/chat/completions"

    def complete(self, messages: Sequence[Message]) -> Completion:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ProviderError("config", f"llm endpoint {self.endpoint!r} is not an http(s) URL")
        payload: dict[str, object] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": self.temperature,
        }
        if self.max_tokens is not None:
            payload["max_tokens"] = self.max_tokens
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        key = os.environ.get(self.api_key_env, "")
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), headers=headers, method="POST"
        )
        try:
            with _opener(parsed.hostname).open(request, timeout=self.timeout) as response:
                raw = response.read(MAX_ANSWER_BYTES + 1)
        except urllib.error.HTTPError as error:
            raise ProviderError("http", _redact(_http_message(self.url, error), key)) from None
        except TimeoutError:
            raise ProviderError("timeout", f"{self.url}: no answer within {self.timeout:g}s") from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise ProviderError("timeout", f"{self.url}: no answer within {self.timeout:g}s") from None
            raise ProviderError("connection", _redact(f"{self.url}: {error.reason}", key)) from None
        except OSError as error:  # reset connection, broken pipe mid-read
            raise ProviderError("connection", _redact(f"{self.url}: {error}", key)) from None
        if len(raw) > MAX_ANSWER_BYTES:
            raise ProviderError(
                "malformed", f"{self.url}: the answer is larger than {MAX_ANSWER_BYTES} bytes"
            )
        return parse_completion(raw, self.model, self.url)


def parse_completion(raw: bytes, model: str, where: str = "llm endpoint") -> Completion:
    """The protocol's JSON (`choices[].message.content`, optional `usage`) as a Completion."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProviderError("malformed", f"{where}: the answer is not JSON ({error})") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices:
        raise ProviderError("malformed", f"{where}: the answer has no `choices`")
    texts = []
    for choice in choices:
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise ProviderError("malformed", f"{where}: a choice has no `message.content` string")
        texts.append(content)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return Completion(
        tuple(texts),
        str(data.get("model") or model),
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
    )


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _http_message(url: str, error: urllib.error.HTTPError) -> str:
    try:
        body = error.read(300).decode("utf-8", "replace")
    except OSError:
        body = ""
    detail = " ".join(body.split())[:200]
    hint = {429: " (rate limited: lower max-calls or wait)", 401: " (check the API key variable)"}.get(
        error.code, ""
    )
    return f"{url}: HTTP {error.code} {error.reason}{hint}" + (f": {detail}" if detail else "")


def _redact(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def _opener(host: str) -> urllib.request.OpenerDirector:
    """A local server is reached directly even where a proxy is configured for the internet."""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()
