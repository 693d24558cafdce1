"""The command line: ``threadbrief run | import | formats | estimate | batch status | batch collect | report |
export | validate | eval | schema``.

Stdout carries data (``schema``); stderr carries progress, notices and errors. Errors are one line
naming the file and the fix; exit codes: 0 all complete / valid, 1 some thread partial or failed (or a
brief invalid), 2 usage or configuration error. ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from . import __version__
from .batch import BATCH_DISCOUNT, EXIT_WAITING, BatchJob, BatchOutcome
from .batch_api import BatchAPI
from .batch_state import config_from_state, load_state, state_path
from .cost import cost_usd, estimate_run, load_prices
from .errors import ConfigError, OutputError, ThreadbriefError
from .evaluate import (
    Report,
    StanceReport,
    evaluate,
    evaluate_stance,
    gold_format,
    load_gold,
    load_stance_labels,
    report_table,
    stance_table,
)
from .export import (
    CLAIM_FIELDS,
    RELATION_FIELDS,
    RunBriefs,
    claim_rows,
    relation_rows,
    run_stopped,
    write_csv,
    write_jsonl,
)
from .extract_openai import DEFAULT_OUTPUT_BUDGET, NO_KEY, RESPONSE_FORMATS
from .importers import FORMATS, format_names
from .importers.base import ImportOptions
from .load import InputStream, Loaded, thread_json
from .outputs import Totals, atomic_write
from .progress import PROGRESS_KINDS, Log, RichProgress, log_line
from .resources import schema_names, schema_path
from .runner import INTERRUPTED_EXIT_CODE, run
from .settings import RunConfig, make_extractor, openai_extractor, resolve_model
from .tokenizer import get_tokenizer
from .validate import brief_problems


def _err(message: str) -> None:
    click.echo(message, err=True)


_DEBUG = "threadbrief.debug"


class _Commands(click.Group):
    """The one place an error becomes a line on stderr and its exit code (with --debug, the traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ThreadbriefError as exc:
            if ctx.meta.get(_DEBUG):
                raise
            _err(f"threadbrief: error: {exc}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            if ctx.meta.get(_DEBUG):
                raise
            # A run has written run.json for what finished and said so on a STOPPED line by now.
            _err("threadbrief: interrupted")
            sys.exit(INTERRUPTED_EXIT_CODE)


def _debug(debug: bool) -> None:
    """--debug: let errors through as tracebacks."""
    click.get_current_context().meta[_DEBUG] = debug


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="threadbrief")
def cli() -> None:
    """Turn discussion threads into grounded briefs: claims, rebuttals, verified quotes."""


# `run --batch --wait` and `batch collect --wait` poll alike.
_poll_option = click.option(
    "--poll",
    type=click.FloatRange(min=0.01),
    default=30.0,
    show_default=True,
    help="With --wait: seconds before the first status check; the delay grows ×1.5 up to 10 minutes.",
)


COLUMN_FIELDS = ("id", "parent", "author", "text", "thread", "title")


def _parse_columns(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dict[str, str] | None:
    if value is None:
        return None
    columns: dict[str, str] = {}
    for pair in value.split(","):
        field, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or field not in COLUMN_FIELDS or not column:
            raise click.BadParameter(
                f"{pair.strip()!r}: give FIELD=COLUMN pairs, FIELD one of {', '.join(COLUMN_FIELDS)} "
                "(e.g. id=comment_id,parent=reply_to,author=user,text=body)"
            )
        columns[field] = column
    return columns


def _input_options(command: Callable[..., None]) -> Callable[..., None]:
    """Options shared by `run`, `estimate` and `import`: how the input files are read."""
    for option in reversed(
        [
            click.option(
                "--format",
                "input_format",
                type=click.Choice(format_names()),
                default=None,
                help="Read every input as this format instead of detecting it (see `threadbrief formats`).",
            ),
            click.option(
                "--columns",
                callback=_parse_columns,
                default=None,
                metavar="FIELD=COLUMN,...",
                help="CSV/TSV: which columns hold " + ", ".join(COLUMN_FIELDS) + " [default: detected by name].",
            ),
        ]
    ):
        command = option(command)
    return command


def _log(kind: str, message: str) -> None:
    _err(log_line(kind, message))


def _quiet(kind: str, message: str) -> None:
    """--quiet keeps the lines that report a problem: not a thread done or waiting, nor a batch's progress."""
    if kind not in PROGRESS_KINDS:
        _log(kind, message)


def _report_loaded(loaded: Loaded) -> None:
    for error in loaded.errors:
        _log("SKIPPED", str(error))
    for note in loaded.notes:
        _log("NOTE", f"{note.where}: {note.reason}")


def _model_and_cost_options(command: Callable[..., None]) -> Callable[..., None]:
    """Options shared by `run` and `estimate`: what a request looks like and what it costs."""
    for option in reversed(
        [
            click.option(
                "--model",
                default=None,
                help="Model name for the openai backend [default: $THREADBRIEF_MODEL or gpt-4o-mini].",
            ),
            click.option(
                "--max-chunk-tokens",
                type=click.IntRange(min=256),
                default=6000,
                show_default=True,
                help="Token budget of one extraction prompt as sent (instructions + posts).",
            ),
            click.option(
                "--output-budget",
                type=click.IntRange(min=16),
                default=DEFAULT_OUTPUT_BUDGET,
                show_default=True,
                help="Output tokens assumed per request, for the TPM limiter and cost estimates.",
            ),
            click.option(
                "--prices",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help='JSON price table {"model": {"input": USD/1M, "output": USD/1M}} that overrides '
                "and extends the built-in one [default: $THREADBRIEF_PRICES].",
            ),
        ]
    ):
        command = option(command)
    return command


@cli.command("run")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_input_options
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
    "--base-url",
    default=None,
    help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 [default: $OPENAI_BASE_URL].",
)
@_model_and_cost_options
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=512),
    default=8,
    show_default=True,
    help="Model requests in flight at once.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1, max=1024),
    default=None,
    help="Worker processes for the offline backend's threads (briefs identical to one process) "
    "[default: the cores available, fewer for a small run]. An LLM run's calls stay in one process.",
)
@click.option(
    "--rpm", type=click.FloatRange(min=1), default=None, help="Requests per minute allowed [default: no limit]."
)
@click.option(
    "--tpm",
    type=click.FloatRange(min=1),
    default=None,
    help="Tokens per minute allowed (prompt + output budget per request) [default: no limit].",
)
@click.option(
    "--max-cost",
    type=click.FloatRange(min=0),
    default=None,
    help="Refuse to start when the estimated cost in USD exceeds this.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=120.0,
    show_default=True,
    help="Seconds one HTTP request may take.",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds one request may take with all its retries: a stalled server cannot hold a run longer.",
)
@click.option(
    "--response-format",
    type=click.Choice(RESPONSE_FORMATS),
    default="auto",
    show_default=True,
    help="auto = json_schema, and json_object with the schema in the prompt once the server rejects or ignores "
    "it; json_object = from the first request (llama.cpp and other servers without json_schema).",
)
@click.option(
    "--language",
    metavar="CODE",
    default=None,
    help="ISO 639-1 code (en, de, ja, ...) of the language the LLM writes paraphrases and the overview in; "
    "quotes stay in the original [default: each thread's own language].",
)
@click.option(
    "--cache-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Extraction cache directory [default: $XDG_CACHE_HOME/threadbrief].",
)
@click.option("--no-cache", is_flag=True, help="Neither read nor write the extraction cache.")
@click.option(
    "--batch",
    "use_batch",
    is_flag=True,
    help="Send the requests through the provider's Batch API (half price, up to 24 h) and return; "
    "then `threadbrief batch collect OUT`.",
)
@click.option("--wait", is_flag=True, help="With --batch: poll until every answer is in and the briefs are written.")
@_poll_option
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress bar and no per-thread lines; errors and the summary only."
)
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def run_command(
    inputs: tuple[Path, ...],
    out: Path,
    backend: str,
    base_url: str | None,
    model: str | None,
    max_chunk_tokens: int,
    output_budget: int,
    prices: Path | None,
    concurrency: int,
    jobs: int | None,
    rpm: float | None,
    tpm: float | None,
    max_cost: float | None,
    timeout: float,
    deadline: float,
    response_format: str,
    language: str | None,
    cache_dir: Path | None,
    no_cache: bool,
    use_batch: bool,
    wait: bool,
    poll: float,
    quiet: bool,
    debug: bool,
    input_format: str | None,
    columns: dict[str, str] | None,
) -> None:
    """Write a brief for every thread in INPUTS: files or directories of platform exports, thread JSON or
    plain text (see `threadbrief formats`)."""
    _debug(debug)
    config = RunConfig(
        input_format=input_format,
        columns=columns,
        inputs=list(inputs),
        out=out,
        backend=backend,
        model=model,
        base_url=base_url,
        max_chunk_tokens=max_chunk_tokens,
        concurrency=concurrency,
        jobs=jobs,
        cache_dir=cache_dir,
        use_cache=not no_cache,
        debug=debug,
        rpm=rpm,
        tpm=tpm,
        output_budget=output_budget,
        prices=prices,
        max_cost=max_cost,
        request_timeout=timeout,
        request_deadline=deadline,
        response_format=response_format,
        language=language,
    )
    if wait and not use_batch:
        _err("threadbrief: error: --wait goes with --batch: add --batch, or drop --wait")
        sys.exit(2)
    if use_batch:
        _batch_run(config, quiet=quiet, wait=wait, start=True, poll=poll)
    progress: RichProgress | None = None
    log: Log = _log
    extractor, notice = make_extractor(config, dict(os.environ))
    if notice and not quiet:
        _err(notice)
    if quiet:
        log = _quiet
    elif sys.stderr.isatty():
        table = load_prices(prices)
        progress = RichProgress(lambda u: cost_usd(table, extractor.name, extractor.model, u.tokens_in, u.tokens_out))
        log = progress.log_line
    exit_code, manifest = run(config, extractor, log=log, progress=progress)
    _err(_closing_line(manifest["totals"], out))
    sys.exit(exit_code)


def _closing_line(totals: Totals, out: Path) -> str:
    """The one line a run ends with on stderr: what became of the threads, calls, tokens, and where it went."""
    cost = totals["cost_usd"]
    return (
        f"threadbrief: {totals['threads']} thread(s): {totals['complete']} complete, {totals['partial']} partial, "
        f"{totals['failed']} failed, {totals['input_errors']} input error(s), {totals['input_notes']} input note(s); "
        f"{totals['calls']} calls "
        f"({totals['cached_calls']} cached, {totals['rate_limited']} rate-limited), "
        f"{totals['tokens_in']}+{totals['tokens_out']} tokens{f', ${cost:.4f}' if cost else ''}; "
        f"briefs in {out}/, manifest {out / 'run.json'}"
    )


def _batch_run(config: RunConfig, *, quiet: bool, wait: bool, start: bool, poll: float) -> NoReturn:
    """`run --batch` (start=True) and `batch collect`: one step, or steps until done with --wait."""
    env = dict(os.environ)
    if config.backend == "offline" or not (env.get("OPENAI_API_KEY") or config.base_url or env.get("OPENAI_BASE_URL")):
        raise ConfigError("--batch needs the openai backend: set OPENAI_API_KEY (or pass --base-url)")
    extractor = openai_extractor(config, env)
    state = None if start else load_state(config.out)
    if start and state_path(config.out).exists():
        raise ConfigError(
            f"{config.out} already holds a batch ({state_path(config.out)}): `threadbrief batch collect "
            f"{config.out}`, or choose another -o"
        )
    api = BatchAPI(api_key=env.get("OPENAI_API_KEY", "") or NO_KEY, base_url=extractor.base_url)
    job = BatchJob(config, extractor, api, state=state, log=_quiet if quiet else _log)

    async def go() -> BatchOutcome:
        try:
            return await (job.run_until_done(first_poll=poll) if wait else job.step())
        finally:
            await api.aclose()

    outcome = asyncio.run(go())
    totals = outcome.manifest["totals"]
    batch = outcome.manifest["batch"]
    cost = batch["cost_usd"]
    _err(
        f"threadbrief: {totals['threads']} thread(s): {totals['complete']} complete, {totals['partial']} partial, "
        f"{totals['failed']} failed, {totals['pending']} pending; batch requests: {batch['requests']['sent']} "
        f"waiting, {batch['requests']['done']} answered, {batch['requests']['failed']} failed"
        f"{f'; ${cost:.4f} at batch prices' if cost else ''}; manifest {config.out / 'run.json'}"
    )
    if outcome.waiting:
        _err(
            f"threadbrief: {outcome.waiting} answer(s) due from {len(outcome.submitted) or 'earlier'} batch(es): "
            f"`threadbrief batch status {config.out}`, then `threadbrief batch collect {config.out}`"
        )
    sys.exit(0 if start and outcome.exit_code == EXIT_WAITING else outcome.exit_code)


@cli.command("estimate")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@_input_options
@_model_and_cost_options
@click.option("--batch", "use_batch", is_flag=True, help="At Batch API prices (half the price table's).")
@click.option("--json", "as_json", is_flag=True, help="Print the estimate as JSON on stdout.")
def estimate_command(
    inputs: tuple[Path, ...],
    model: str | None,
    max_chunk_tokens: int,
    output_budget: int,
    prices: Path | None,
    use_batch: bool,
    as_json: bool,
    input_format: str | None,
    columns: dict[str, str] | None,
) -> None:
    """Estimate a run over INPUTS with no network: chunks, calls, prompt tokens, output budget and cost."""
    model = resolve_model(model, dict(os.environ))
    stream = InputStream(list(inputs), ImportOptions(input_format, columns))
    tokenizer = get_tokenizer(model)
    # One thread at a time, as `run` reads them: a dump of any size. Chunking a thread checks that its title
    # leaves room for posts (a ConfigError names the fix).
    estimate = estimate_run(
        stream,
        tokenizer,
        max_chunk_tokens=max_chunk_tokens,
        output_budget=output_budget,
        backend="openai",
        model=model,
        prices=load_prices(prices),
        price_factor=BATCH_DISCOUNT if use_batch else 1.0,
    )
    _report_loaded(Loaded(errors=stream.errors, notes=stream.notes))
    cost = f"${estimate.cost_usd:.4f}" if estimate.cost_usd is not None else f"unknown (no price for {model}: --prices)"
    _err(
        f"threadbrief estimate for {model}: {estimate.threads} thread(s), {estimate.chunks} chunk(s), "
        f"{estimate.calls} call(s), {estimate.prompt_tokens} prompt tokens, {estimate.output_budget} output "
        f"tokens at most ({output_budget} per call), cost {cost}{' at batch prices' if use_batch else ''}"
    )
    if as_json:
        click.echo(json.dumps(estimate.as_dict(), indent=2))


@cli.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check briefs (brief.json files, or directories holding */brief.json) against the schema and the
    grounding invariant. Exit 0 when all are valid, 1 otherwise."""
    checked = bad = 0
    for file in _brief_files(paths):
        checked += 1
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
    if not checked:
        _err("threadbrief: error: no brief.json found under " + ", ".join(map(str, paths)))
        sys.exit(2)
    _err(f"threadbrief: {checked - bad} of {checked} brief(s) valid")
    sys.exit(1 if bad else 0)


def _brief_files(paths: tuple[Path, ...]) -> Iterator[Path]:
    """The brief.json files given, and those under the directories given (each folder's in name order), as a
    stream: OUT may hold 100,000 of them."""
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for folder, dirs, files in os.walk(path):
            dirs.sort()
            if "brief.json" in files:
                yield Path(folder, "brief.json")


@cli.command("eval")
@click.argument("gold", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Also print the scores as JSON on stdout.")
def eval_command(gold: Path, out: Path, as_json: bool) -> None:
    """Score the briefs in OUT against GOLD: argument-unit annotations (gold.jsonl, `threadbrief schema
    gold`: claims, attack edges and post pairs beside two trivial baselines), or stance labels (one reply
    a line, `threadbrief schema stance-gold`: how often replies that do not rebut their parent are marked
    as rebuttals). The kind of gold is read from the file. The table goes to stderr."""
    scores: StanceReport | Report
    if gold_format(gold) == "stance":
        scores = evaluate_stance(load_stance_labels(gold), out)
        table = stance_table(scores)
    else:
        scores = evaluate(load_gold(gold), out)
        table = report_table(scores)
    if scores.threads == 0:
        _err(f"threadbrief: error: no brief in {out} matches a thread of {gold}: run `threadbrief run` first")
        sys.exit(2)
    _err(table)
    if as_json:
        click.echo(json.dumps(scores.as_dict(), indent=2))


def _run_briefs(out: Path) -> tuple[RunBriefs, dict[str, Any] | None]:
    """OUT's briefs (``RunBriefs``: the caller closes it) and its run.json's ``stopped``, with NOTE lines for
    what they leave out: folders of earlier runs, threads a stopped run never ran. OUT is scanned and run.json
    read once, for the notes and the briefs alike."""
    briefs = RunBriefs(out)
    earlier = briefs.unlisted()
    if earlier:
        shown = ", ".join(earlier[:5]) + (f" and {len(earlier) - 5} more" if len(earlier) > 5 else "")
        _log("NOTE", f"{out}: left out {len(earlier)} thread folder(s) that run.json does not list ({shown})")
    stopped = run_stopped(out)
    if stopped is not None:
        _log(
            "NOTE",
            f"{out}: its run stopped part-way ({str(stopped.get('reason'))[:160]}): "
            f"{stopped.get('threads_not_run')} thread(s) of its input did not run; run it again to brief them",
        )
    return briefs, stopped


@cli.command("export")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--what", type=click.Choice(["claims", "relations"]), default="claims", show_default=True)
def export_command(out: Path, fmt: str, what: str) -> None:
    """Print the claims (or relations) of every brief in OUT as CSV or JSON Lines on stdout."""
    run_briefs, _ = _run_briefs(out)
    try:
        briefs = run_briefs.briefs()  # one at a time: the rows are written as each brief is read
        first = next(briefs, None)
        if first is None:
            _err(f"threadbrief: error: no brief.json under {out}: run `threadbrief run` first")
            sys.exit(2)
        every = itertools.chain([first], briefs)
        rows = claim_rows(every) if what == "claims" else relation_rows(every)
        stdout = sys.stdout
        if fmt == "csv":
            write_csv(stdout, rows, CLAIM_FIELDS if what == "claims" else RELATION_FIELDS)
        else:
            write_jsonl(stdout, rows)
        stdout.flush()
    finally:
        run_briefs.close()


@cli.command("report")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "-o",
    "--site",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write the site [default: OUT/report].",
)
def report_command(out: Path, site: Path | None) -> None:
    """Write a static HTML site of the briefs in OUT (no network, opens from file://)."""
    site = site or out / "report"
    from .report import write_report  # its graph layout imports numpy: only the report command pays for it

    run_briefs, stopped = _run_briefs(out)
    try:
        pages = write_report(out, site, run_briefs.briefs(), stopped)
    except OSError as exc:
        raise OutputError(f"cannot write the site to {site} ({exc.strerror or exc}): choose another with -o") from exc
    finally:
        run_briefs.close()
    if pages == 0:
        _err(f"threadbrief: error: no brief.json under {out}: run `threadbrief run` first")
        sys.exit(2)
    _err(f"threadbrief: {pages} thread page(s); open {site / 'index.html'}")


@cli.command("schema")
@click.argument("name", type=click.Choice(schema_names()))
def schema_command(name: str) -> None:
    """Print a JSON Schema (thread: input, extraction: model output, summary, brief: output, gold and stance-gold:
    the two kinds of annotations `eval` reads)."""
    click.echo(schema_path(name).read_text(encoding="utf-8"), nl=False)


@cli.command("import")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Directory for the threads: DIR/<thread_id>.json, one per thread.",
)
@_input_options
def import_command(
    inputs: tuple[Path, ...], out: Path, input_format: str | None, columns: dict[str, str] | None
) -> None:
    """Convert INPUTS (any format `threadbrief formats` lists) to threadbrief thread JSON, one file per thread,
    as `run` would read them: inspect or edit them, then `threadbrief run DIR`. Exit 1 when an input could not
    be read (the others are still written)."""
    stream = InputStream(list(inputs), ImportOptions(input_format, columns))
    written = 0
    try:
        for thread in stream:  # each written as it is loaded: a dump of any size, one thread in memory
            atomic_write(
                out / f"{thread.id}.json", json.dumps(thread_json(thread), ensure_ascii=False, indent=1) + "\n"
            )
            written += 1
    except OSError as exc:
        _err(f"threadbrief: error: cannot write to {out} ({exc.strerror or exc}): choose another directory with -o")
        sys.exit(2)
    _report_loaded(Loaded(errors=stream.errors, notes=stream.notes))
    _err(
        f"threadbrief: {written} thread(s) written to {out}/, {len(stream.errors)} input error(s), "
        f"{len(stream.notes)} note(s)"
    )
    sys.exit(1 if stream.errors else 0)


@cli.command("formats")
@click.option("--markdown", is_flag=True, help="As the Markdown table the README shows.")
def formats_command(markdown: bool) -> None:
    """List the input formats, in detection order: name (for --format), what it is, how to get the export,
    what is kept."""
    if markdown:
        click.echo("| format | what | how to get it | what is kept |\n| --- | --- | --- | --- |")
        for fmt in FORMATS:
            cells = (fmt.title, fmt.obtain, fmt.kept)
            click.echo(f"| `{fmt.name}` | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        return
    for fmt in FORMATS:
        click.echo(f"{fmt.name}\n  {fmt.title}\n  get it: {fmt.obtain}\n  kept: {fmt.kept}\n")


@cli.group("batch")
def batch_group() -> None:
    """Follow and collect a run started with `threadbrief run --batch`."""


@batch_group.command("status")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the batches as JSON on stdout.")
def batch_status_command(out: Path, as_json: bool) -> None:
    """Show the state of OUT's batches (one line each) and of its requests."""
    env = dict(os.environ)
    state = load_state(out)
    config = config_from_state(state)
    extractor = openai_extractor(config, env)
    api = BatchAPI(api_key=env.get("OPENAI_API_KEY", "") or NO_KEY, base_url=config.base_url)
    job = BatchJob(config, extractor, api, state=state)

    async def go() -> list[dict[str, Any]]:
        try:
            return await job.status()
        finally:
            await api.aclose()
            await extractor.aclose()

    rows = asyncio.run(go())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    for row in rows:
        counts = row.get("request_counts") or {}
        done = f" ({counts.get('completed', 0)}/{counts.get('total', 0)} done, {counts.get('failed', 0)} failed)"
        collected = "  collected" if row["collected"] else ""
        _err(f"{row['id']}  {row['status']}{done if counts else ''}  {row['file']}{collected}")
    states = [r["state"] for r in state["requests"].values()]
    _err(
        f"threadbrief: requests: {states.count('sent')} waiting, {states.count('done')} answered, "
        f"{states.count('retry')} to re-send, {states.count('failed')} failed"
    )


@batch_group.command("collect")
@click.argument("out", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--wait", is_flag=True, help="Poll until every answer is in and the briefs are written.")
@_poll_option
@click.option("--base-url", default=None, help="The endpoint, when it differs from the one the batch recorded.")
@click.option("-q", "--quiet", is_flag=True, help="Errors and the summary only.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
def batch_collect_command(out: Path, wait: bool, poll: float, base_url: str | None, quiet: bool, debug: bool) -> None:
    """Download finished batches into the cache, write the briefs whose answers are all in, and submit
    what is still needed (overviews, re-asks, re-sends). Exit 0 done, 1 some thread partial or failed,
    3 answers still due."""
    _debug(debug)
    config = config_from_state(load_state(out), base_url)
    _batch_run(config, quiet=quiet, wait=wait, start=False, poll=poll)


def main() -> None:
    cli(prog_name="threadbrief")


if __name__ == "__main__":  # python -m pipeline.cli ...: every command above is defined by now
    main()
