"""Answers on disk and a per-run budget: reruns are offline, deterministic and free.

An answer is stored under the SHA-256 of (prompt messages, model, settings), one JSON file each,
written atomically. A cache hit costs no call and no tokens; a corrupt entry reads as a miss.
`Session` is the one object with state in the LLM path: it owns the budget of a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

from optcompiler.llm.provider import Completion, Message, Provider, ProviderError
from optcompiler.llm.settings import LlmConfig

FORMAT = 1


def default_dir() -> Path:
    from optcompiler.cache import cache_root

    return cache_root() / "llm"


def cache_key(messages: Sequence[Message], settings: Mapping[str, object]) -> str:
    text = json.dumps(
        {"format": FORMAT, "messages": [dict(m) for m in messages], "settings": dict(settings)},
        sort_keys=True,
        ensure_ascii=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Completions by key, in `<root>/<key[:2]>/<key>.json`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> Completion | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
            texts = data["texts"]
            if data.get("format") != FORMAT or not all(isinstance(t, str) for t in texts):
                return None
            return Completion(
                tuple(texts),
                str(data["model"]),
                int(data.get("prompt_tokens", 0)),
                int(data.get("completion_tokens", 0)),
                cached=True,
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, completion: Completion) -> None:
        path = self._path(key)
        data = {
            "format": FORMAT,
            "model": completion.model,
            "texts": list(completion.texts),
            "prompt_tokens": completion.prompt_tokens,
            "completion_tokens": completion.completion_tokens,
        }
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs a rerun's call
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


class Session:
    """One run's access to the model: cache first, then the budget, then the provider."""

    def __init__(
        self,
        provider: Provider | None,
        cache: ResponseCache | None,
        settings: Mapping[str, object],
        max_calls: int,
        max_tokens: int,
    ) -> None:
        self.provider = provider
        self.cache = cache
        self.settings = dict(settings)
        self.max_calls = max_calls
        self.max_tokens = max_tokens
        self.calls = 0
        self.tokens = 0
        self.cache_hits = 0
        self.errors: Counter[str] = Counter()

    def ask(self, messages: Sequence[Message]) -> Completion:
        """The answer to `messages`; ProviderError when there is none (budget, network, protocol)."""
        key = cache_key(messages, self.settings)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                self.cache_hits += 1
                return hit
        try:
            if self.provider is None:
                raise ProviderError("config", "no llm endpoint configured and no cached answer")
            if self.calls >= self.max_calls:
                raise ProviderError("budget", f"llm call budget spent ({self.max_calls} calls this run)")
            if self.tokens >= self.max_tokens:
                raise ProviderError("budget", f"llm token budget spent ({self.max_tokens} tokens this run)")
            self.calls += 1
            completion = self.provider.complete(messages)
        except ProviderError as error:
            self.errors[error.kind] += 1
            raise
        self.tokens += completion.tokens
        if self.cache is not None:
            self.cache.put(key, completion)
        return completion


def open_session(config: LlmConfig) -> Session:
    """A session for `config`: the real provider when an endpoint is set, the cache when enabled."""
    from optcompiler.llm.provider import ChatCompletions

    provider = (
        ChatCompletions(
            config.endpoint,
            config.model,
            timeout=config.timeout,
            temperature=config.temperature,
            api_key_env=config.api_key_env,
        )
        if config.endpoint
        else None
    )
    cache = (
        ResponseCache(Path(config.cache_dir) if config.cache_dir else default_dir()) if config.cache else None
    )
    return Session(provider, cache, config.settings_key(), config.max_calls, config.max_tokens)
