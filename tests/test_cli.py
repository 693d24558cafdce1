"""The command line's one error path (a ThreadbriefError → one line on stderr and its own exit code; --debug →
the traceback) and `python -m pipeline` / `python -m pipeline.cli` with every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import ROOT, write_thread

from pipeline.cli import cli
from pipeline.errors import ThreadbriefError


def test_an_input_error_exits_with_its_own_code_in_one_line(tmp_path: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text("{not json\n")
    result = CliRunner().invoke(cli, ["eval", str(gold), str(tmp_path)])
    assert result.exit_code == 1  # an InputError's code: the file is unreadable, the usage was right
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("threadbrief: error: ")
    assert "gold.jsonl:1: invalid JSON" in result.stderr


def test_debug_lets_the_error_through_as_a_traceback(tmp_path: Path) -> None:
    write_thread(tmp_path / "t.json", "t", [("1", "ann", None, "Hello there.")])
    env = {"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}
    args = ["run", str(tmp_path / "t.json"), "--backend", "openai", "-o", str(tmp_path / "out")]
    plain = CliRunner().invoke(cli, args, env=env)
    assert plain.exit_code == 2 and "no OPENAI_API_KEY" in plain.stderr and plain.exception is not None
    assert isinstance(plain.exception, SystemExit)
    debug = CliRunner().invoke(cli, [*args, "--debug"], env=env)
    assert isinstance(debug.exception, ThreadbriefError)


@pytest.mark.parametrize("module", ["pipeline", "pipeline.cli"])
def test_python_dash_m_runs_every_command(module: str) -> None:
    # `batch` is the last group defined in cli.py: `python -m pipeline.cli batch` once said "No such command".
    for args in (["batch", "collect", "--help"],):
        result = subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
        )
        assert result.returncode == 0, (args, result.stderr)
        assert result.stdout


def test_an_offline_run_never_imports_the_openai_sdk(tmp_path: Path) -> None:
    """The SDK (with pydantic) took most of a process's start; offline runs and their workers do not need it.
    Nor does a run over thread JSON need the HTML parser, jsonschema (messages for invalid instances) or the
    report's graph layout: each is imported where it is used."""
    (tmp_path / "in").mkdir()
    write_thread(tmp_path / "in" / "t.json", "t", [("a", "ann", None, "Cats are better pets than dogs.")])
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        f"sys.argv = ['threadbrief', 'run', {str(tmp_path / 'in')!r}, '-o', {str(tmp_path / 'out')!r}, '-q',"
        " '--backend', 'offline']\n"
        "try:\n    main()\nexcept SystemExit as done:\n    assert done.code == 0, done.code\n"
        "print(sorted(m for m in ('openai', 'pydantic', 'bs4', 'markdownify', 'jsonschema', 'grandalf')"
        " if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "out" / "t" / "brief.json").is_file()
