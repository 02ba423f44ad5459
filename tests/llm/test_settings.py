"""`[tool.optc.llm]` and `--llm`: off by default, the key never a setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from optcompiler.config import Config, merge, read_settings
from optcompiler.errors import OptcError


def _settings(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    return read_settings(path)


def test_off_by_default() -> None:
    assert Config().llm.enabled is False


def test_table_and_flag(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        '[tool.optc.llm]\nendpoint = "http://127.0.0.1:8080/v1"\nmodel = "qwen2.5-coder"\n'
        'max-calls = 4\ntimeout = 30\ntemperature = 0.2\napi-key-env = "MY_KEY"\n',
    )
    config = merge(settings, {"llm": None})
    assert not config.llm.enabled and config.llm.model == "qwen2.5-coder" and config.llm.max_calls == 4
    on = merge(settings, {"llm": True}).llm  # `--llm` keeps the file's endpoint and budget
    assert on.enabled and on.endpoint == "http://127.0.0.1:8080/v1" and on.timeout == 30.0
    assert on.api_key_env == "MY_KEY" and on.temperature == 0.2
    assert merge({}, {"llm": True}).llm.enabled


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[tool.optc.llm]\nendpont = "x"\n', "unknown key 'endpont'"),
        ("[tool.optc.llm]\ntimeout = -1\n", "timeout: expected a positive number"),
        ('[tool.optc.llm]\nendpoint = "localhost:8080"\n', "endpoint: expected an http(s) URL"),
        ("[tool.optc.llm]\ntemperature = 5\n", "temperature: expected a number from 0 to 2"),
        ('[tool.optc.llm]\napi-key = "sk-123"\n', "unknown key 'api-key'"),
        ('[tool.optc]\nllm = "yes"\n', "expected a table"),
    ],
)
def test_mistakes_are_one_line_errors(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(OptcError) as info:
        _settings(tmp_path, text)
    assert words in str(info.value) and "pyproject.toml:" in str(info.value)
