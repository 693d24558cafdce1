"""The command line: ``threadbrief run | validate | schema``.

Stdout carries data (``schema``); stderr carries progress, notices and errors. Errors are one line
naming the file and the fix; exit codes: 0 all complete / valid, 1 some thread partial or failed (or a
brief invalid), 2 usage or configuration error. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from . import __version__
from .errors import ThreadbriefError
from .evaluate import evaluate, load_gold, report_table
from .resources import schema_names, schema_path
from .runner import RunConfig, make_extractor, run
from .validate import brief_problems


def _err(message: str) -> None:
    click.echo(message, err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="threadbrief")
def cli() -> None:
    """Turn discussion threads into grounded briefs: claims, rebuttals, verified quotes."""


@cli.command("run")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path),
    default=Path("outputs"),
    show_default=True,
    help="Output directory: OUT/<thread_id>/brief.{json,md} and OUT/run.json.",
)
@click.option(
    "--backend",
    type=click.Choice(["auto", "openai", "offline"]),
    default="auto",
    show_default=True,
    help="auto = openai when OPENAI_API_KEY or OPENAI_BASE_URL is set, else offline.",
)
@click.option(
    "--model",
    default=None,
    help="Model name for the openai backend [default: $THREADBRIEF_MODEL or gpt-4o-mini].",
)
@click.option(
    "--base-url",
    default=None,
    help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 [default: $OPENAI_BASE_URL].",
)
@click.option(
    "--max-chunk-tokens",
    type=click.IntRange(min=256),
    default=6000,
    show_default=True,
    help="Token budget of one extraction prompt as sent (instructions + posts).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=256),
    default=8,
    show_default=True,
    help="Model requests in flight at once.",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Extraction cache directory [default: $XDG_CACHE_HOME/threadbrief].",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the extraction cache.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def run_command(
    inputs: tuple[Path, ...],
    out: Path,
    backend: str,
    model: str | None,
    base_url: str | None,
    max_chunk_tokens: int,
    concurrency: int,
    cache_dir: Path | None,
    no_cache: bool,
    debug: bool,
) -> None:
    """Write a brief for every thread in INPUTS (files or directories of .txt, .md, .json, .jsonl)."""
    config = RunConfig(
        inputs=list(inputs),
        out=out,
        backend=backend,
        model=model,
        base_url=base_url,
        max_chunk_tokens=max_chunk_tokens,
        concurrency=concurrency,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        debug=debug,
    )
    try:
        extractor, notice = make_extractor(config, dict(os.environ))
        if notice:
            _err(notice)
        exit_code, manifest = run(config, extractor, log=_err)
    except ThreadbriefError as exc:
        if debug:
            raise
        _err(f"threadbrief: error: {exc}")
        sys.exit(exc.exit_code)
    totals = manifest["totals"]
    cost = totals["cost_usd"]
    _err(
        f"threadbrief: {totals['threads']} thread(s): {totals['complete']} complete, {totals['partial']} partial, "
        f"{totals['failed']} failed, {totals['input_errors']} input error(s); {totals['calls']} calls "
        f"({totals['cached_calls']} cached), {totals['tokens_in']}+{totals['tokens_out']} tokens"
        f"{f', ${cost:.4f}' if cost else ''}; briefs in {out}/, manifest {out / 'run.json'}"
    )
    sys.exit(exit_code)


@cli.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check briefs (brief.json files, or directories holding */brief.json) against the schema and the
    grounding invariant. Exit 0 when all are valid, 1 otherwise."""
    files: list[Path] = []
    for path in paths:
        files += sorted(path.rglob("brief.json")) if path.is_dir() else [path]
    if not files:
        _err("threadbrief: error: no brief.json found under " + ", ".join(map(str, paths)))
        sys.exit(2)
    bad = 0
    for file in files:
        try:
            problems = brief_problems(json.loads(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems = [f"cannot read as JSON: {exc}"]
        if problems:
            bad += 1
            for problem in problems:
                _err(f"{file}: {problem}")
        else:
            _err(f"{file}: ok")
    _err(f"threadbrief: {len(files) - bad} of {len(files)} brief(s) valid")
    sys.exit(1 if bad else 0)


@cli.command("eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Also print the scores as JSON on stdout.")
def eval_command(gold: Path, out: Path, as_json: bool) -> None:
    """Score the briefs in OUT against GOLD annotations (gold.jsonl, `threadbrief schema gold`), beside two
    trivial baselines on the same threads. The table goes to stderr."""
    try:
        report = evaluate(load_gold(gold), out)
    except ThreadbriefError as exc:
        _err(f"threadbrief: error: {exc}")
        sys.exit(2)
    if report.threads == 0:
        _err(f"threadbrief: error: no brief in {out} matches a thread of {gold}: run `threadbrief run` first")
        sys.exit(2)
    _err(report_table(report))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))


@cli.command("schema")
@click.argument("name", type=click.Choice(schema_names()))
def schema_command(name: str) -> None:
    """Print a JSON Schema (thread: input, extraction: model output, summary, brief: output, gold: eval)."""
    click.echo(schema_path(name).read_text(encoding="utf-8"), nl=False)


def main() -> None:
    cli(prog_name="threadbrief")


if __name__ == "__main__":
    main()
