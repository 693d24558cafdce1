"""The docs/dask.md recipe, run as written on Dask's local schedulers, writes the briefs `threadbrief run`
writes; and pipeline.api's functions on their own."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import CMV_THREADS, ROOT, SEEDS, blank_keys, need

from pipeline.api import brief_one, brief_partition, thread_of
from pipeline.cli import cli
from pipeline.load import load_inputs, thread_json

dask = pytest.importorskip("dask", reason="the [dask] extra (the test extra installs it)")

RUN_SPECIFIC = ("created_at", "seconds", "input_path")


def _recipe() -> str:
    """The Python block of docs/dask.md's recipe, as a user would paste it."""
    text = (ROOT / "docs" / "dask.md").read_text(encoding="utf-8")
    match = re.search(r"## The recipe.*?```python\n(.*?)```", text, re.S)
    assert match, "docs/dask.md has no recipe"
    return match.group(1)


def _scrub(value: Any) -> Any:
    return blank_keys(value, RUN_SPECIFIC)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """threads/ with the seeds in one JSONL file and 8 cmv-dev threads in another, and `threadbrief run`'s
    briefs of them in run/."""
    need(CMV_THREADS.is_dir(), "../shared/eval/cmv-dev")
    folder = tmp_path_factory.mktemp("dask")
    (folder / "threads").mkdir()
    for name, inputs in (("seeds", [SEEDS]), ("cmv", sorted(CMV_THREADS.glob("*.json"))[:8])):
        lines = [json.dumps(thread_json(t), ensure_ascii=False) for t in load_inputs(inputs).threads]
        (folder / "threads" / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["run", str(folder / "threads"), "-o", str(folder / "run"), "--backend", "offline", "-q", "--jobs", "1"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return folder


def _same_briefs(run: Path, dasked: Path, written: list[str]) -> None:
    expected = json.loads((run / "run.json").read_text(encoding="utf-8"))["threads"]
    assert written == [entry["id"] for entry in expected]  # every thread, in input order
    for thread_id in written:
        mine = json.loads((dasked / thread_id / "brief.json").read_text(encoding="utf-8"))
        theirs = json.loads((run / thread_id / "brief.json").read_text(encoding="utf-8"))
        assert mine["thread"]["input_path"] == thread_id
        assert _scrub(mine) == _scrub(theirs), thread_id
        source = re.compile(r"source: `[^`]*`")
        markdown = [source.sub("", (d / thread_id / "brief.md").read_text(encoding="utf-8")) for d in (run, dasked)]
        assert markdown[0] == markdown[1], thread_id


@pytest.mark.parametrize("scheduler", ["synchronous", "processes"])
def test_the_recipe_writes_the_briefs_threadbrief_run_writes(
    workdir: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = f"briefs-{scheduler}"
    monkeypatch.chdir(workdir)
    scope: dict[str, Any] = {}
    with dask.config.set(scheduler=scheduler, num_workers=2):
        exec(_recipe().replace('out="briefs"', f'out="{out}"'), scope)
    _same_briefs(workdir / "run", workdir / out, scope["written"])


def test_brief_one_takes_an_object_or_a_line_and_keeps_no_state(workdir: Path) -> None:
    line = (workdir / "threads" / "cmv.jsonl").read_text(encoding="utf-8").splitlines()[0]
    from_line, from_object = brief_one(line), brief_one(json.loads(line))
    assert from_line["thread"]["sha256"] == thread_of(line).sha256 != from_object["thread"]["sha256"]
    assert _scrub(from_line["claims"]) == _scrub(from_object["claims"]) and from_line["claims"]
    again = brief_partition([line, line])
    assert [_scrub(b) for b in again] == [_scrub(from_line)] * 2  # a second call sees nothing of the first


def test_an_object_that_is_not_a_thread_is_refused() -> None:
    from pipeline.errors import InputError

    with pytest.raises(InputError, match="not a thread"):
        brief_one({"id": "x", "posts": "none"})


def test_the_readme_shows_the_recipe_this_file_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"\*\*Past one machine\*\*.*?```python\n(.*?)```", readme, re.S)
    assert match, "README.md has no Dask recipe under 'Past one machine'"
    shown = [line.strip() for line in match.group(1).splitlines() if line.strip()]
    assert shown == [line.strip() for line in _recipe().splitlines() if line.strip()]
