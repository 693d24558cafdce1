"""The README's example configurations for vLLM, Ollama and llama.cpp, run as documented.

Each `threadbrief run threads/ --base-url http://localhost:PORT/v1 ...  # Server` line is read from the
README and run through the CLI against the project's fake server behaving as that server does with
``response_format``: vLLM decodes against json_schema, an Ollama without structured output accepts it and
ignores it, a llama.cpp build without it refuses it with a 400. No key is set, as with a local server.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import grounded_everywhere, make_threads

from pipeline.cli import cli
from pipeline.fakeserver import FakeOpenAIServer, FakeServerConfig

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE = re.compile(r"^(threadbrief run threads/ --base-url http://localhost:\d+/v1 .*?)\s+# (\S+)$", re.MULTILINE)

# How each server treats `response_format: json_schema`, and the format a run should end with.
BEHAVIOUR = {
    "vLLM": (FakeServerConfig(), "json_schema"),
    "Ollama": (FakeServerConfig(ignores_json_schema=True), "json_object"),
    "llama.cpp": (FakeServerConfig(json_schema=False), "json_object"),
}


def documented_examples() -> dict[str, list[str]]:
    return {server: shlex.split(line) for line, server in EXAMPLE.findall(README.read_text())}


def test_the_readme_documents_an_example_for_each_server() -> None:
    assert sorted(documented_examples()) == sorted(BEHAVIOUR)


@pytest.mark.parametrize("server_name", sorted(BEHAVIOUR))
def test_each_documented_server_example_runs_as_documented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server_name: str
) -> None:
    args = documented_examples()[server_name]
    config, final_format = BEHAVIOUR[server_name]
    sent: list[dict[str, Any]] = []

    def record(body: dict[str, Any], kind: str) -> None:
        sent.append(body)
        return None

    config.script = record
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "THREADBRIEF_MODEL"):
        monkeypatch.delenv(name, raising=False)
    with FakeOpenAIServer(config) as server:
        argv = [server.base_url if a.startswith("http://localhost:") else a for a in args[1:]]
        argv[argv.index("threads/")] = str(make_threads(tmp_path / "threads", 5))
        argv += ["-o", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), "-q"]
        result = CliRunner().invoke(cli, argv, catch_exceptions=False)
        refused = server.stats.statuses.get(400, 0)
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "run.json").read_text())
    assert manifest["totals"]["complete"] == 5 and manifest["backend"] == "openai"
    assert manifest["settings"]["response_format"] == final_format
    model = args[args.index("--model") + 1]
    assert {body["model"] for body in sent} == {model}
    formats = [body["response_format"]["type"] for body in sent]
    concurrency = int(args[args.index("--concurrency") + 1])
    if server_name == "vLLM":
        assert set(formats) == {"json_schema"} and refused == 0
    elif server_name == "Ollama":
        # The requests already in flight come back in prose and are re-asked with the schema in the prompt.
        assert 1 <= formats.count("json_schema") <= concurrency and formats[-1] == "json_object"
    else:
        assert set(formats) == {"json_object"} and refused == 0  # no refusal: json_object from the start
    for brief in (tmp_path / "out").glob("*/brief.json"):
        data = json.loads(brief.read_text())
        assert data["status"] == "complete" and data["claims"] and grounded_everywhere(data)
