"""The chat-completion client, cache and budget against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from optcompiler.llm.cache import ResponseCache, Session, cache_key, open_session
from optcompiler.llm.prompt import build_messages, extract_candidates
from optcompiler.llm.provider import ChatCompletions, ProviderError, parse_completion
from optcompiler.llm.settings import LlmConfig

from .server import Reply, ScriptedServer, completion, fenced

MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def _provider(server: ScriptedServer, **kw: object) -> ChatCompletions:
    return ChatCompletions(server.endpoint, "m", **kw)  # type: ignore[arg-type]


def test_request_and_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTC_TEST_KEY", "sk-secret-123")
    with ScriptedServer(lambda body: completion("one", "two", tokens=7)) as server:
        result = _provider(server, api_key_env="OPTC_TEST_KEY", temperature=0.5).complete(MESSAGES)
    assert result.texts == ("one", "two")
    assert result.tokens == 14
    (request,) = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["model"] == "m" and request["messages"] == MESSAGES and request["temperature"] == 0.5
    assert server.headers[0]["Authorization"] == "Bearer sk-secret-123"


def test_no_key_no_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPTC_LLM_API_KEY", raising=False)
    with ScriptedServer(lambda body: completion("x")) as server:
        _provider(server).complete(MESSAGES)
    assert "Authorization" not in server.headers[0]


@pytest.mark.parametrize(
    ("reply", "kind", "words"),
    [
        (Reply(429, b'{"error": "slow down"}'), "http", "HTTP 429"),
        (Reply(500, b"boom"), "http", "HTTP 500"),
        (Reply(200, b"{not json"), "malformed", "not JSON"),
        (Reply(200, b'{"choices": []}'), "malformed", "no `choices`"),
        (Reply(200, b'{"choices": [{"message": {"content": 3}}]}'), "malformed", "message.content"),
        (Reply(200, b"[1, 2]"), "malformed", "no `choices`"),
    ],
)
def test_failures_are_one_line_errors(
    reply: Reply, kind: str, words: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPTC_TEST_KEY", "sk-secret-123")
    with ScriptedServer(lambda body: reply) as server, pytest.raises(ProviderError) as info:
        _provider(server, api_key_env="OPTC_TEST_KEY").complete(MESSAGES)
    assert info.value.kind == kind
    assert words in str(info.value)
    assert "\n" not in str(info.value) and "sk-secret-123" not in str(info.value)


def test_key_echoed_by_server_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTC_TEST_KEY", "sk-secret-123")
    with ScriptedServer(lambda body: Reply(401, b"bad key sk-secret-123")) as server:
        with pytest.raises(ProviderError) as info:
            _provider(server, api_key_env="OPTC_TEST_KEY").complete(MESSAGES)
    assert "sk-secret-123" not in str(info.value) and "HTTP 401" in str(info.value)


def test_timeout() -> None:
    with ScriptedServer(lambda body: Reply(200, b"{}", delay=1.0)) as server:
        with pytest.raises(ProviderError) as info:
            _provider(server, timeout=0.2).complete(MESSAGES)
    assert info.value.kind == "timeout" and "0.2s" in str(info.value)


def test_connection_refused() -> None:
    with ScriptedServer(lambda body: completion("x")) as server:
        endpoint = server.endpoint
    with pytest.raises(ProviderError) as info:
        ChatCompletions(endpoint, "m", timeout=2).complete(MESSAGES)
    assert info.value.kind in ("connection", "timeout")


def test_bad_endpoint() -> None:
    with pytest.raises(ProviderError) as info:
        ChatCompletions("ftp://example/v1", "m").complete(MESSAGES)
    assert info.value.kind == "config"


def test_endpoint_may_name_the_full_path() -> None:
    assert ChatCompletions("http://h:1/v1/chat/completions", "m").url == "http://h:1/v1/chat/completions"
    assert ChatCompletions("http://h:1/v1/", "m").url == "http://h:1/v1/chat/completions"


def test_oversized_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    from optcompiler.llm import provider

    monkeypatch.setattr(provider, "MAX_ANSWER_BYTES", 100)
    with ScriptedServer(lambda body: completion("x" * 500)) as server:
        with pytest.raises(ProviderError) as info:
            _provider(server).complete(MESSAGES)
    assert info.value.kind == "malformed" and "larger than 100 bytes" in str(info.value)


def test_usage_is_optional() -> None:
    result = parse_completion(b'{"choices": [{"message": {"content": "x"}}]}', "m")
    assert result.texts == ("x",) and result.tokens == 0 and result.model == "m"


# ---- cache and budget ----------------------------------------------------------------------------


def test_cache_makes_reruns_offline(tmp_path) -> None:
    with ScriptedServer(lambda body: completion("answer")) as server:
        config = LlmConfig(enabled=True, endpoint=server.endpoint, cache_dir=str(tmp_path))
        first = open_session(config).ask(MESSAGES)
        second = open_session(config).ask(MESSAGES)  # a new run
    assert server.calls == 1
    assert first.texts == second.texts == ("answer",)
    assert not first.cached and second.cached
    # offline: no endpoint at all, the cached answer still comes back
    offline = open_session(LlmConfig(enabled=True, endpoint=None, cache_dir=str(tmp_path))).ask(MESSAGES)
    assert offline.texts == ("answer",)


def test_cache_key_covers_prompt_model_and_settings() -> None:
    base = cache_key(MESSAGES, {"model": "a", "temperature": 0.0})
    assert base == cache_key(list(MESSAGES), {"temperature": 0.0, "model": "a"})
    assert base != cache_key(MESSAGES, {"model": "b", "temperature": 0.0})
    assert base != cache_key(MESSAGES, {"model": "a", "temperature": 0.7})
    assert base != cache_key(
        [*MESSAGES, {"role": "user", "content": "more"}], {"model": "a", "temperature": 0.0}
    )


def test_corrupt_cache_entry_is_a_miss(tmp_path) -> None:
    cache = ResponseCache(tmp_path)
    key = cache_key(MESSAGES, {})
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / f"{key}.json").write_text("{broken")
    assert cache.get(key) is None


def test_errors_are_not_cached(tmp_path) -> None:
    replies = iter([Reply(500, b"down"), completion("ok")])
    with ScriptedServer(lambda body: next(replies)) as server:
        session = open_session(LlmConfig(endpoint=server.endpoint, cache_dir=str(tmp_path)))
        with pytest.raises(ProviderError):
            session.ask(MESSAGES)
        assert session.ask(MESSAGES).texts == ("ok",)
    assert session.errors == {"http": 1}


def test_call_budget(tmp_path) -> None:
    with ScriptedServer(lambda body: completion("x")) as server:
        session = open_session(LlmConfig(endpoint=server.endpoint, cache_dir=str(tmp_path), max_calls=2))
        session.ask([{"role": "user", "content": "1"}])
        session.ask([{"role": "user", "content": "2"}])
        session.ask([{"role": "user", "content": "1"}])  # cached: free
        with pytest.raises(ProviderError) as info:
            session.ask([{"role": "user", "content": "3"}])
    assert info.value.kind == "budget" and server.calls == 2


def test_token_budget() -> None:
    with ScriptedServer(lambda body: completion("x", tokens=50)) as server:
        session = Session(_provider(server), None, {}, max_calls=10, max_tokens=100)
        session.ask(MESSAGES)  # 100 tokens: the budget is now spent
        with pytest.raises(ProviderError) as info:
            session.ask(MESSAGES)
    assert info.value.kind == "budget" and "token" in str(info.value)


def test_no_endpoint_and_no_cache_is_a_config_error(tmp_path) -> None:
    session = open_session(LlmConfig(endpoint=None, cache_dir=str(tmp_path)))
    with pytest.raises(ProviderError) as info:
        session.ask(MESSAGES)
    assert info.value.kind == "config"


# ---- prompt ----------------------------------------------------------------------------------------


def test_prompt_carries_kernel_types_sizes_and_best() -> None:
    messages = build_messages(
        "f",
        "def f(x):\n    return x\n",
        {"x": "float64[:]"},
        {"n": 1000},
        "def f(x):\n    return 1\n",
        "r",
        0.5,
        3,
    )
    text = messages[1]["content"]
    assert "def f(x)" in text and "float64[:]" in text and "n=1000" in text
    assert "return 1" in text and "0.5" in text and "up to 3" in text


def test_fenced_code_is_read_robustly() -> None:
    answer = (
        "Sure!\r\n```Python\r\n    def f(x):\r\n        return x\r\n```\r\n"
        "Also:\n~~~\ndef g(x):\n    return 2\n~~~\n"
        "```\nprint('no function here')\n```\n"
        "```python\ndef h(x):\n    return (\n"  # unterminated fence, kept (the syntax error is counted later)
    )
    blocks = extract_candidates(answer)
    assert blocks[0] == "def f(x):\n    return x\n"
    assert blocks[1] == "def g(x):\n    return 2\n"
    assert blocks[2].startswith("def h(x):")
    assert len(blocks) == 3
    assert extract_candidates(fenced("def f(x):\n    return x", "def f(x):\n    return x")) == [
        "def f(x):\n    return x\n"
    ]
    assert extract_candidates("def f(x):\n    return 1\n") == ["def f(x):\n    return 1\n"]
    assert extract_candidates("I cannot help with that.") == []
