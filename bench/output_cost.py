"""Output tokens per claim and per thread, and the cost per 1,000 threads, for realistic answers (a benchmark).

Output is most of an LLM run's bill (output tokens cost 4x input at gpt-4o-mini prices), so this measures
what a careful model's extraction answers cost, before and after the compact form of
schemas/extraction.schema.json, on the annotated cmv-dev threads (../shared/eval/cmv-dev by default, read
in place).

The answers are built, not asked for: for every thread, each chunk (``chunk_thread`` at the default budget)
gets the answer a careful model would give, taken from the gold argument units: one claim per main claim,
claim or premise unit of a post the chunk shows (kind question when the unit ends with "?", premise for a
premise unit, else claim), quoting the unit's text, and one relation per gold relation whose ends it holds
(support → supports, agreement → agrees, partial_* → qualifies, other attacks → rebuts). What differs is
only the encoding of those same claims:
- before: the schema as it was, every claim with a one-sentence paraphrase; the stand-in paraphrase has
  the quote's own length (its words), field order id, post_id, kind, text, quote;
- after: the compact form, quote before text, text "" ("the quote says it") unless the quote needs one: a
  question (its implied assertion), a quote opening on a word that points elsewhere ("this", "it",
  "but", ...) or one of more than ``PLAIN_MAX_WORDS`` words; then a paraphrase of at most
  ``PARAPHRASE_MAX_WORDS`` words (stand-in: the quote's first words).
The paraphrase lengths are a model of the answer, stated here; everything else is counted. Tokens are the
project's tokenizer (o200k_base, gpt-4o and gpt-4o-mini) on compact JSON (what strict structured output
returns; an indented answer, as a json_object answer may be, is shown for scale). Both encodings are checked
against the schema file and taken through check_extraction, ground and merge: the claims (post, span,
kind) and relations the brief shows must come out the same.
Input tokens: each chunk's prompt as sent (``Chunk.prompt_tokens``: system prompt, user prompt, framing)
plus the response schema, which structured output bills as prompt (counted as a user measured it against
the API's usage, openai/openai-cookbook issue #2140: the schema without "required" and
"additionalProperties", compact, + 9), and the overview call's prompt (``summary_messages`` over the
merged claims, + its schema). Its output: a 120-word paragraph (the summary schema's
limit) at the thread's own tokens per word. Prices: pipeline/data/prices.json.
Also printed, not adopted: two further cuts measured on the after answers (post ids shown as p1, p2...;
claim ids as bare numbers).
Usage: python bench/output_cost.py [CMV_DIR]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cmv import argument_parser, data_paths

from pipeline.chunk import chunk_thread
from pipeline.cost import load_prices
from pipeline.extract import check_extraction
from pipeline.extract_openai import summary_messages
from pipeline.ground import ground_claims
from pipeline.load import load_inputs
from pipeline.merge import merge_claims
from pipeline.models import Chunk, ChunkExtraction, Claim, GroundedClaim, ProposedRelation, Thread
from pipeline.normalize import normalize_thread
from pipeline.resources import prompt_text, response_schema, schema_errors
from pipeline.settings import RunConfig
from pipeline.tokenizer import MESSAGE_TOKENS, get_tokenizer

MODELS = ("gpt-4o-mini", "gpt-4o")
PLAIN_MAX_WORDS = 30
PARAPHRASE_MAX_WORDS = 15  # the text field's limit in schemas/extraction.schema.json
OVERVIEW_WORDS = 120  # the overview's limit in schemas/summary.schema.json
# A quote opening on one of these leans on what came before: a reader needs it said in full.
POINTS_ELSEWHERE = frozenset(
    "this that these those it it's its they them their he she his her so but and yes no which then such "
    "that's this's there's".split()
)
RELATION_TYPE = {"support": "supports", "agreement": "agrees", "understand": "agrees"}

Answer = dict[str, Any]
Encoder = Callable[[list["Unit"], list[tuple[int, int, str]]], Answer]


@dataclass
class Unit:
    post_id: str
    kind: str
    quote: str


@dataclass
class Totals:
    claims: int = 0
    relations: int = 0
    out_tokens: int = 0
    indented_tokens: int = 0
    in_tokens: int = 0
    summary_in: int = 0
    summary_out: int = 0
    grounded: int = 0
    shown: list[tuple[Any, ...]] = field(default_factory=list)  # per thread, what the brief would show


def words(text: str, limit: int) -> str:
    return " ".join(text.split()[:limit])


def relation_type(label: str, is_attack: bool) -> str:
    if label.startswith("partial_"):
        return "qualifies"
    return "rebuts" if is_attack else RELATION_TYPE.get(label, "agrees")


def before(units: list[Unit], relations: list[tuple[int, int, str]]) -> Answer:
    claims = [
        {"id": f"k{n}", "post_id": u.post_id, "kind": u.kind, "text": u.quote, "quote": u.quote}
        for n, u in enumerate(units, 1)
    ]
    return {"claims": claims, "relations": [{"source": f"k{s}", "target": f"k{t}", "type": r} for s, t, r in relations]}


def needs_paraphrase(unit: Unit) -> bool:
    first = unit.quote.split()[0].casefold().strip("\"'“”‘’(")
    return unit.kind == "question" or first in POINTS_ELSEWHERE or len(unit.quote.split()) > PLAIN_MAX_WORDS


def after(units: list[Unit], relations: list[tuple[int, int, str]]) -> Answer:
    claims = [
        {
            "id": f"k{n}",
            "post_id": u.post_id,
            "kind": u.kind,
            "quote": u.quote,
            "text": words(u.quote, PARAPHRASE_MAX_WORDS) if needs_paraphrase(u) else "",
        }
        for n, u in enumerate(units, 1)
    ]
    return {"claims": claims, "relations": [{"source": f"k{s}", "target": f"k{t}", "type": r} for s, t, r in relations]}


def aliased_posts(answer: Answer) -> Answer:
    alias: dict[str, str] = {}
    for claim in answer["claims"]:
        alias.setdefault(claim["post_id"], f"p{len(alias) + 1}")
    return {**answer, "claims": [{**c, "post_id": alias[c["post_id"]]} for c in answer["claims"]]}


def bare_ids(answer: Answer) -> Answer:
    def bare(value: str) -> str:
        return value.removeprefix("k")

    claims = [{**c, "id": bare(c["id"])} for c in answer["claims"]]
    relations = [{**r, "source": bare(r["source"]), "target": bare(r["target"])} for r in answer["relations"]]
    return {"claims": claims, "relations": relations}


def chunk_units(
    chunk: Chunk, gold: dict[str, Any], located: dict[str, Unit]
) -> tuple[list[Unit], list[tuple[int, int, str]]]:
    """The gold units and relations a careful model would give for this chunk (1-based claim numbers)."""
    units: list[Unit] = []
    number: dict[str, int] = {}
    for adu in gold["adus"]:
        unit = located.get(adu["id"])
        if unit is not None and unit.post_id in chunk.post_ids:
            units.append(unit)
            number[adu["id"]] = len(units)
    context_text = {cp.post.id: cp.text for cp in chunk.context}
    relations: list[tuple[int, int, str]] = []
    for rel in gold["relations"]:
        source, target = rel["source"], rel["target"]
        if source not in number or target not in located:
            continue
        if target not in number:  # a post of an earlier chunk: citable when its context excerpt shows the unit
            unit = located[target]
            if unit.quote not in context_text.get(unit.post_id, ""):
                continue
            units.append(unit)
            number[target] = len(units)
        if number[source] != number[target]:
            relations.append((number[source], number[target], relation_type(rel["label"], rel["is_attack"])))
    return units, relations


def locate_units(thread: Thread, gold: dict[str, Any]) -> dict[str, Unit]:
    """Gold units of posts the extractor is shown (duplicates are not), by unit id."""
    texts = {p.id: p.text for p in thread.unique_posts}
    found: dict[str, Unit] = {}
    for adu in gold["adus"]:
        quote = adu["text"].strip()
        if quote and quote in texts.get(adu["post_id"], ""):
            kind = "question" if quote.endswith("?") else "premise" if adu["label"] == "premise" else "claim"
            found[adu["id"]] = Unit(adu["post_id"], kind, quote)
    return found


SCHEMA_FRAME_TOKENS = 9  # what the API adds around a response schema (openai/openai-cookbook#2140)


def schema_prompt_tokens(name: str, count: Callable[[str], int]) -> int:
    """Prompt tokens a strict response schema adds to a request."""

    def bare(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: bare(v) for k, v in node.items() if k not in ("required", "additionalProperties")}
        return [bare(v) for v in node] if isinstance(node, list) else node

    return (
        count(json.dumps(bare(response_schema(name)), ensure_ascii=False, separators=(",", ":"))) + SCHEMA_FRAME_TOKENS
    )


def compact(answer: Answer) -> str:
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":"))


def measure(threads: list[Thread], gold: dict[str, dict[str, Any]], encode: Encoder, totals: Totals) -> None:
    tokenizer = get_tokenizer(MODELS[0])
    schema_tokens = schema_prompt_tokens("extraction", tokenizer.count)
    for thread in threads:
        chunks = chunk_thread(thread, tokenizer, RunConfig.max_chunk_tokens)
        located = locate_units(thread, gold[thread.id])
        grounded: list[GroundedClaim] = []
        proposed: list[ProposedRelation] = []
        for chunk in chunks:
            units, relations = chunk_units(chunk, gold[thread.id], located)
            answer = encode(units, relations)
            problems = schema_errors("extraction", answer)
            if problems:
                raise SystemExit(f"{thread.id} {chunk.id}: the built answer breaks the schema: {problems[:3]}")
            totals.claims += len(answer["claims"])
            totals.relations += len(answer["relations"])
            totals.out_tokens += tokenizer.count(compact(answer))
            totals.indented_tokens += tokenizer.count(json.dumps(answer, ensure_ascii=False, indent=2))
            totals.in_tokens += chunk.prompt_tokens + schema_tokens
            claims, chunk_relations, _ = check_extraction(ChunkExtraction(chunk.id, answer), chunk)
            kept, _ = ground_claims(chunk.id, claims, thread, chunk.windows())
            grounded += kept
            proposed += chunk_relations
        totals.grounded += len(grounded)
        merged, merged_relations, _ = merge_claims(thread, grounded, proposed)
        totals.shown.append(
            (
                [(c.post_id, c.span, c.kind) for c in merged],
                [(r.source, r.target, r.type) for r in merged_relations],
            )
        )
        messages = summary_messages(thread.title or thread.id, merged, merged_relations)
        totals.summary_in += sum(tokenizer.count(m["content"]) + MESSAGE_TOKENS for m in messages)
        totals.summary_in += schema_prompt_tokens("summary", tokenizer.count)
        totals.summary_out += overview_tokens(merged, tokenizer.count)


def overview_tokens(claims: list[Claim], count: Callable[[str], int]) -> int:
    """A 120-word overview at this thread's tokens per word, as the summary's JSON answer."""
    text = " ".join(c.quote for c in claims)
    per_word = count(text) / max(1, len(text.split()))
    return count(json.dumps({"overview": ""})) + round(OVERVIEW_WORDS * per_word)


def cost_per_1000(totals: Totals, threads: int, model: str, prices: dict[str, dict[str, float]]) -> float:
    price = prices[model]
    tokens_in = totals.in_tokens + totals.summary_in
    tokens_out = totals.out_tokens + totals.summary_out
    return 1000 * (tokens_in * price["input"] + tokens_out * price["output"]) / 1e6 / threads


def main() -> int:
    args = argument_parser(__doc__).parse_args()
    paths = data_paths(args.cmv_dir)
    if paths is None:
        return 2
    threads_dir, gold_path = paths
    gold = {g["thread_id"]: g for g in map(json.loads, gold_path.read_text(encoding="utf-8").splitlines())}
    threads = [normalize_thread(t) for t in load_inputs([threads_dir]).threads if t.id in gold]
    prices = load_prices()
    results = {name: Totals() for name in ("before", "after")}
    measure(threads, gold, before, results["before"])
    measure(threads, gold, after, results["after"])
    n = len(threads)
    old, new = results["before"], results["after"]
    same = sum(a == b for a, b in zip(old.shown, new.shown, strict=True))
    print(f"{n} cmv-dev threads, {old.claims} claims ({old.claims / n:.1f} a thread), {old.relations} relations")
    tokenizer = get_tokenizer(MODELS[0])
    system, schema = tokenizer.count(prompt_text("extract_system")), schema_prompt_tokens("extraction", tokenizer.count)
    print(
        f"extraction input: {old.in_tokens / n:.0f} tokens a thread (in every call: system prompt {system}, "
        f"response schema {schema}); overview input {old.summary_in / n:.0f} before, {new.summary_in / n:.0f} after"
    )
    print()
    header = f"{'':<32}{'before':>10}{'after':>10}{'change':>9}"
    print(header)
    rows: list[tuple[str, float, float, str]] = [
        ("output tokens per claim", old.out_tokens / old.claims, new.out_tokens / new.claims, ".1f"),
        ("output tokens per thread", old.out_tokens / n, new.out_tokens / n, ".0f"),
        ("output / input tokens", old.out_tokens / old.in_tokens, new.out_tokens / new.in_tokens, ".2f"),
        ("  indented JSON, per thread", old.indented_tokens / n, new.indented_tokens / n, ".0f"),
        *(
            (
                f"USD per 1,000 threads, {model}",
                cost_per_1000(old, n, model, prices),
                cost_per_1000(new, n, model, prices),
                ".2f",
            )
            for model in MODELS
        ),
    ]
    for label, a, b, spec in rows:
        print(f"{label:<32}{a:>10{spec}}{b:>10{spec}}{(b - a) / a:>+9.0%}")
    print()
    print(f"grounded claims: {old.grounded} before, {new.grounded} after; the brief's claims (post, span, kind) and")
    print(f"relations are the same in {same} of {n} threads")
    print()
    print("not adopted, measured on the after answers (output tokens per thread):")
    for label, change in (("post ids shown as p1, p2, ...", aliased_posts), ("claim ids as bare numbers", bare_ids)):
        total = 0
        for thread in threads:
            for chunk in chunk_thread(thread, tokenizer, RunConfig.max_chunk_tokens):
                units, relations = chunk_units(chunk, gold[thread.id], locate_units(thread, gold[thread.id]))
                total += tokenizer.count(compact(change(after(units, relations))))
        print(f"  {label:<34}{total / n:>8.0f}  ({(total - new.out_tokens) / new.out_tokens:+.0%})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
