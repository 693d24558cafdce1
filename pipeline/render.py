"""Render: a thread's results → the brief as JSON (the checked form) and Markdown (generated from it).

Input: the normalized thread, its detected language (and whether the backend reads it), merged claims and
relations, summary, rejections, failures, provenance and stats. Output: ``build_brief`` returns the
``Brief`` (valid against ``schemas/brief.schema.json``); ``brief_markdown`` renders that dict, so the
Markdown can never say more than the checked JSON. Failure modes: none raised here; the thread stage
(``thread.brief_thread``) checks the brief before it is written.
"""

from __future__ import annotations

from .brief_types import Brief, BriefClaim, BriefLanguage, BriefStats, Provenance
from .debate import Relations, debate_core, key_exchanges, positions, speaker_count
from .models import BriefStatus, Claim, Failure, Rejection, Relation, RelationType, Thread
from .text import as_sentence

SCHEMA_VERSION = "1.0"


def build_brief(
    *,
    thread: Thread,
    status: BriefStatus,
    language: BriefLanguage,
    tokens: int,
    chunks: int,
    claims: list[Claim],
    relations: list[Relation],
    summary: str,
    rejected: list[Rejection],
    failures: list[Failure],
    provenance: Provenance,
    stats: BriefStats,
) -> Brief:
    return {
        "schema_version": SCHEMA_VERSION,
        "status": status,
        "thread": {
            "id": thread.id,
            "title": thread.title,
            "source": thread.source,
            "input_path": thread.input_path,
            "sha256": thread.sha256,
            "counts": {
                "posts": len(thread.posts),
                "duplicates_removed": sum(1 for p in thread.posts if p.duplicate_of),
                "tokens": tokens,
                "chunks": chunks,
            },
        },
        "language": language,
        # Built field by field: dataclasses.asdict deep-copies, and this runs for every post of every thread.
        "posts": [
            {
                "id": p.id,
                "author": p.author,
                "parent_id": p.parent_id,
                "text": p.text,
                "duplicate_of": p.duplicate_of,
                "quoted": [list(q) for q in p.quoted],
            }
            for p in thread.posts
        ],
        "claims": [
            {
                "id": c.id,
                "post_id": c.post_id,
                "speaker": c.speaker,
                "kind": c.kind,
                "text": c.text,
                "quote": c.quote,
                "span": list(c.span),
                "match": c.match,
                "chunks": c.chunks,
            }
            for c in claims
        ],
        "relations": [{"source": r.source, "target": r.target, "type": r.type} for r in relations],
        "summary": summary,
        "rejected": [{"stage": r.stage, "chunk": r.chunk, "item": r.item, "reason": r.reason} for r in rejected],
        "failures": [{"stage": f.stage, "chunk": f.chunk, "reason": f.reason} for f in failures],
        "provenance": provenance,
        "stats": stats,
    }


def _md_inline(text: str) -> str:
    """One line of Markdown-safe text: newlines folded, characters Markdown would interpret escaped."""
    text = " ".join(text.split())
    for char in "\\`*_[]<>|":
        text = text.replace(char, "\\" + char)
    return text


def _speaker_label(claim: BriefClaim) -> str:
    return claim["speaker"] if claim["speaker"] else "Unattributed"


# Mermaid reads these as syntax inside a label: entity codes, in one pass (the codes hold ";" and "#").
_MERMAID_ESCAPES = str.maketrans(
    {'"': "#quot;", "[": "#91;", "]": "#93;", "|": "#124;", "<": "#lt;", ">": "#gt;", ";": "#59;", "#": "#35;"}
)
# GitHub scales a Mermaid map down to the width of the page, so every claim more makes every label smaller.
# (report.SVG_MAP_MAX_CLAIMS is higher: that map is drawn at full size in a box that scrolls.)
MERMAID_MAP_MAX_CLAIMS = 40
# "At a glance": how many positions, contested claims, rebuttals of each and replies to each it names.
GLANCE_POSITIONS, GLANCE_EXCHANGES, GLANCE_REBUTTALS, GLANCE_REPLIES, GLANCE_WORDS = 3, 5, 2, 1, 24
# brief.md stays under ~1 MB whatever the thread's length: the lists stop here and say where the rest is.
MARKDOWN_BUDGET = 900_000
MAP_LABEL_WORDS = 8
_EDGE_STYLE: dict[RelationType, str] = {
    "rebuts": "-- rebuts -->",
    "supports": "== supports ==>",
    "agrees": "-. agrees .->",
    "qualifies": "-. qualifies .->",
}


def _map_label(claim: BriefClaim) -> str:
    words = claim["text"].split()
    label = " ".join(words[:MAP_LABEL_WORDS]) + (" …" if len(words) > MAP_LABEL_WORDS else "")
    return f'{claim["id"]}["{claim["id"]}: {label.translate(_MERMAID_ESCAPES)}"]'


def argument_map(brief: Brief, rels: Relations) -> list[str]:
    """A Mermaid flowchart (renders on GitHub) of the debate's core: the largest rebuttal chains, whole (so the
    map is connected, with every edge among its claims), up to MERMAID_MAP_MAX_CLAIMS; says what it leaves out."""
    core = debate_core(rels, MERMAID_MAP_MAX_CLAIMS)
    if not core.components:
        return ["_No rebuttal chain to map: every claim is in the lists below._"]
    kept = set(core.claim_ids)
    lines = ["```mermaid", "flowchart LR"]
    by_speaker: dict[str, list[BriefClaim]] = {}
    for cid in sorted(kept, key=lambda c: int(c[1:]) if c[1:].isdigit() else 0):
        by_speaker.setdefault(rels.speaker(cid), []).append(rels.claims[cid])
    for number, (speaker, members) in enumerate(by_speaker.items(), 1):
        title = speaker.translate(_MERMAID_ESCAPES)
        lines.append(f'  subgraph S{number}["{title}"]')
        lines += [f"    {_map_label(c)}" for c in members]
        lines.append("  end")
    for rel in brief["relations"]:
        if rel["source"] in kept and rel["target"] in kept:
            lines.append(f"  {rel['source']} {_EDGE_STYLE[rel['type']]} {rel['target']}")
    lines.append("```")
    lines.append(f"_The map shows {core.left_out_note(len(rels.claims))}; all claims are in the lists below._")
    return lines


def _short(text: str) -> str:
    words = text.split()
    return _md_inline(" ".join(words[:GLANCE_WORDS]) + (" …" if len(words) > GLANCE_WORDS else ""))


def at_a_glance(brief: Brief, rels: Relations) -> list[str]:
    """What is debated, the main positions and who holds them, the key exchanges: capped, one line each."""
    thread = brief["thread"]
    summary = _md_inline(brief["summary"]) if brief["summary"] else "_No overview (the summary stage failed)._"
    debated = as_sentence(_md_inline(thread["title"] or thread["id"]))
    lines = ["## At a glance", "", f"**Debated:** {debated} {summary}", ""]
    core = debate_core(rels, MERMAID_MAP_MAX_CLAIMS)
    found = positions(rels, core.components, GLANCE_POSITIONS)
    if found:
        lines += ["**Main positions**", ""]
        for pos in found:
            lines.append(
                f"- **{pos.root}** “{_short(rels.claims[pos.root]['text'])}” — held by "
                f"{_md_inline(', '.join(pos.holders[:5]))}; opposed by "
                f"{_md_inline(', '.join(pos.opponents[:5]) or 'no one')} ({pos.rebuttals} rebuttals)"
            )
        lines.append("")
    exchanges = key_exchanges(rels, GLANCE_EXCHANGES, GLANCE_REBUTTALS, GLANCE_REPLIES)
    if exchanges:
        lines += ["**Key exchanges**", ""]
        for ex in exchanges:
            who = _md_inline(rels.speaker(ex.claim))
            lines.append(
                f"- **{ex.claim}** {who}: “{_short(rels.claims[ex.claim]['text'])}” (rebutted {ex.total_rebuttals}×)"
            )
            for rebuttal, replies in ex.rebuttals:
                lines.append(
                    f"  - **{rebuttal}** {_md_inline(rels.speaker(rebuttal))} rebuts: "
                    f"“{_short(rels.claims[rebuttal]['text'])}”"
                )
                lines += [
                    f"    - **{r}** {_md_inline(rels.speaker(r))} replies: “{_short(rels.claims[r]['text'])}”"
                    for r in replies
                ]
        lines.append("")
    elif brief["claims"]:
        lines += ["_No claim is rebutted in this thread._", ""]
    return lines


def _capped(entries: list[list[str]], budget: list[int], what: str) -> list[str]:
    """The entries while the shared character ``budget`` lasts, then one line saying where the rest are."""
    lines: list[str] = []
    for number, entry in enumerate(entries):
        size = sum(len(line) + 1 for line in entry)
        if size > budget[0]:
            lines.append(
                f"- _{len(entries) - number} more {what} are not in this file, to keep it small: "
                "see brief.json (and OUT/claims.jsonl, OUT/relations.jsonl)._"
            )
            budget[0] = 0
            break
        budget[0] -= size
        lines += entry
    return lines


def _claims_by_speaker(brief: Brief, budget: list[int]) -> list[str]:
    if not brief["claims"]:
        return ["_No grounded claims._", ""]
    speakers: dict[str, list[BriefClaim]] = {}
    for claim in brief["claims"]:
        speakers.setdefault(_speaker_label(claim), []).append(claim)
    entries: list[list[str]] = []
    for speaker, items in speakers.items():
        for number, claim in enumerate(items):
            # The offline extractor's paraphrase is often the quote itself: say it once.
            paraphrase = "" if claim["text"] == claim["quote"] else " " + _md_inline(claim["text"])
            entries.append(
                ([f"### {_md_inline(speaker)}", ""] if number == 0 else [])
                + [
                    f"- **{claim['id']}** ({claim['kind']}, post {_md_inline(claim['post_id'])}){paraphrase}",
                    f"  > “{_md_inline(claim['quote'])}”",
                ]
                + ([""] if number == len(items) - 1 else [])
            )
    return _capped(entries, budget, "claims")


def brief_markdown(brief: Brief) -> str:
    thread = brief["thread"]
    counts = thread["counts"]
    rels = Relations(brief)
    lines = [f"# {_md_inline(thread['title'] or thread['id'])}", ""]
    status = brief["status"]
    if status != "complete":
        lines += [
            f"> **Status: {status}.** Some stages failed; see *Failures* below. What is here is grounded.",
            "",
        ]
    language = brief["language"]
    if language["read_by_backend"] is False:
        lines += [
            f"> **Language: {language['code']}.** The {brief['provenance']['backend']} extractor does not read "
            f"{language['code']}, so this brief misses or misreads what the thread argues; the openai backend reads "
            "it (`--backend openai`).",
            "",
        ]
    speakers = speaker_count(brief)
    lines += [
        f"*{counts['posts']} posts ({counts['duplicates_removed']} duplicates removed), {speakers} speakers, "
        f"{len(rels.claims)} claims, {len(brief['relations'])} relations · source: `{thread['input_path']}`*",
        "",
        *at_a_glance(brief, rels),
    ]
    if brief["claims"]:
        lines += ["## Argument map", "", *argument_map(brief, rels), ""]
    budget = [MARKDOWN_BUDGET - sum(len(line) + 1 for line in lines)]
    lines += ["## Claims by speaker", "", *_claims_by_speaker(brief, budget)]
    rebuttals = [r for r in brief["relations"] if r["type"] == "rebuts"]
    lines += ["## Rebuttals", ""]
    if not rebuttals:
        lines += ["_None found._", ""]
    entries = []
    for rel in rebuttals:
        source, target = rels.claims[rel["source"]], rels.claims[rel["target"]]
        entries.append(
            [
                f"- **{source['id']}** ({_md_inline(_speaker_label(source))}) rebuts **{target['id']}** "
                f"({_md_inline(_speaker_label(target))})",
                f"  - {target['id']}: “{_md_inline(target['quote'])}”",
                f"  - {source['id']}: “{_md_inline(source['quote'])}”",
            ]
        )
    lines += _capped(entries, budget, "rebuttals")
    others = [r for r in brief["relations"] if r["type"] != "rebuts"]
    if others:
        lines += ["", "## Other relations", ""]
        entries = [[f"- **{r['source']}** {r['type']} **{r['target']}**"] for r in others]
        lines += _capped(entries, budget, "relations")
    lines.append("")
    return "\n".join(lines + _accounting(brief, budget))


def _accounting(brief: Brief, budget: list[int]) -> list[str]:
    """What was not kept (rejections, failures) and what the brief came from (provenance, calls, tokens)."""
    lines: list[str] = []
    if brief["rejected"]:
        lines += [
            f"## Rejected ({len(brief['rejected'])})",
            "",
            "Proposed by the extractor but not kept, so nothing is dropped silently:",
            "",
        ]
        entries = []
        for item in brief["rejected"]:
            proposed = item["item"].get("quote") or f"{item['item'].get('source')} → {item['item'].get('target')}"
            reason = _md_inline(item["reason"])
            entries.append([f"- {item['stage']}, chunk {item['chunk']}: {reason} — “{_md_inline(str(proposed))}”"])
        lines += _capped(entries, budget, "rejections")
        lines.append("")
    if brief["failures"]:
        lines += ["## Failures", ""]
        lines += [
            f"- {f['stage']}{', chunk ' + f['chunk'] if f['chunk'] else ''}: {_md_inline(f['reason'])}"
            for f in brief["failures"]
        ]
        lines.append("")
    prov = brief["provenance"]
    stats = brief["stats"]
    lines += [
        "---",
        f"<sub>threadbrief {prov['threadbrief_version']} · backend {prov['backend']}"
        f"{' · model ' + prov['model'] if prov['model'] else ''} · "
        + " · ".join(f"{p['name']} {p['sha256'][:12]}" for p in prov["prompts"])
        + f" · {stats['calls']} calls ({stats['cached_calls']} cached)"
        + f", {stats['tokens_in']}+{stats['tokens_out']} tokens · {_language_note(brief['language'])}</sub>",
        "",
    ]
    return lines


def _language_note(language: BriefLanguage) -> str:
    detected = (
        f"language {language['code']} (p {language['confidence']:.2f})"
        if language["confidence"] is not None
        else "language undetermined"
    )
    return detected + (f", --language {language['requested']}" if language["requested"] else "")
