"""`[tool.optc.llm]`: where the model is and what one run may spend on it.

The API key is never a setting: it is read from the environment variable named by
`api_key_env` when a request is sent, so it is never written to a config, a cache or a log.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_KEY_ENV = "OPTC_LLM_API_KEY"


@dataclass(frozen=True)
class LlmConfig:
    enabled: bool = False  # off by default; `--llm` or `enabled = true` turns it on
    endpoint: str | None = None  # e.g. "http://127.0.0.1:8080/v1"; None: learned rules only, no calls
    model: str = "default"
    api_key_env: str = DEFAULT_KEY_ENV  # the *name* of the variable holding the key
    max_calls: int = 8  # model calls per run (cache hits are free)
    max_tokens: int = 100_000  # prompt + completion tokens per run
    timeout: float = 60.0  # seconds per request
    temperature: float = 0.0  # 0: as reproducible as the server allows; the cache does the rest
    candidates: int = 3  # rewrites asked for per call
    cache: bool = True  # reuse answers: reruns are offline, deterministic and free
    cache_dir: str | None = None  # default: <user cache dir>/llm
    rules: str | None = None  # project rule library (JSON), read and extended; relative to the cwd
    learn: bool = True  # generalise verified suggestions into rules

    def settings_key(self) -> dict[str, object]:
        """What an answer depends on besides the prompt (the cache key's part); not the endpoint
        or the key: the same model behind another URL answers the same question the same way."""
        return {"model": self.model, "temperature": self.temperature, "candidates": self.candidates}
