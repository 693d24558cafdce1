"""Render: a thread's results → the brief as JSON (the checked form) and Markdown (generated from it).

Input: the normalized thread, its detected language (and whether the backend reads it), merged claims and
relations, summary, rejections, failures, provenance and stats. Output: ``build_brief`` returns the
``Brief`` (valid against ``schemas/brief.schema.json``); ``brief_markdown`` renders that dict, so the
Markdown can never say more than the checked JSON. Failure modes: none raised here; the thread stage
(``thread.brief_thread``) checks the brief before it is written.
"""

from __future__ import annotations

from .brief_types import Brief, BriefClaim, BriefLanguage, BriefStats, Provenance
from .models import BriefStatus, Claim, Failure, Rejection, Relation, RelationType, Thread

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
# (report.SVG_MAP_MAX_CLAIMS is higher: that map is drawn at full size and the page scrolls.)
MERMAID_MAP_MAX_CLAIMS = 40
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


def argument_map(brief: Brief) -> list[str]:
    """A Mermaid flowchart (renders on GitHub): claims grouped by speaker, typed edges.

    Large threads keep the MERMAID_MAP_MAX_CLAIMS most connected claims and say how many were left out."""
    degree: dict[str, int] = {}
    for rel in brief["relations"]:
        for end in (rel["source"], rel["target"]):
            degree[end] = degree.get(end, 0) + 1
    # The most connected claims first, then the rest in reading order, up to the cap.
    ranked = sorted(degree, key=lambda cid: (-degree[cid], int(cid[1:])))
    ranked += [c["id"] for c in brief["claims"] if c["id"] not in degree]
    shown = ranked[:MERMAID_MAP_MAX_CLAIMS]
    kept = set(shown)
    claims = [c for c in brief["claims"] if c["id"] in kept]
    lines = ["```mermaid", "flowchart LR"]
    by_speaker: dict[str, list[BriefClaim]] = {}
    for claim in claims:
        by_speaker.setdefault(_speaker_label(claim), []).append(claim)
    for number, (speaker, members) in enumerate(by_speaker.items(), 1):
        title = speaker.translate(_MERMAID_ESCAPES)
        lines.append(f'  subgraph S{number}["{title}"]')
        lines += [f"    {_map_label(c)}" for c in members]
        lines.append("  end")
    for rel in brief["relations"]:
        if rel["source"] in kept and rel["target"] in kept:
            lines.append(f"  {rel['source']} {_EDGE_STYLE[rel['type']]} {rel['target']}")
    lines.append("```")
    left_out = len(brief["claims"]) - len(shown)
    if left_out:
        lines.append(
            f"_The map shows {len(shown)} of the {len(brief['claims'])} claims, the most connected first; "
            "all are in the lists below._"
        )
    return lines


def brief_markdown(brief: Brief) -> str:
    thread = brief["thread"]
    counts = thread["counts"]
    claims = {c["id"]: c for c in brief["claims"]}
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
    lines += [
        f"*{counts['posts']} posts ({counts['duplicates_removed']} duplicates removed), {len(claims)} claims, "
        f"{len(brief['relations'])} relations · source: `{thread['input_path']}`*",
        "",
        "## Overview",
        "",
        _md_inline(brief["summary"]) if brief["summary"] else "_No overview (the summary stage failed)._",
        "",
    ]
    if brief["claims"]:
        lines += ["## Argument map", "", *argument_map(brief), ""]
    lines += ["## Claims by speaker", ""]
    if not claims:
        lines += ["_No grounded claims._", ""]
    speakers: dict[str, list[BriefClaim]] = {}
    for claim in brief["claims"]:
        speakers.setdefault(_speaker_label(claim), []).append(claim)
    for speaker, items in speakers.items():
        lines += [f"### {_md_inline(speaker)}", ""]
        for claim in items:
            # The offline extractor's paraphrase is often the quote itself: say it once.
            paraphrase = "" if claim["text"] == claim["quote"] else " " + _md_inline(claim["text"])
            lines.append(f"- **{claim['id']}** ({claim['kind']}, post {_md_inline(claim['post_id'])}){paraphrase}")
            lines.append(f"  > “{_md_inline(claim['quote'])}”")
        lines.append("")
    rebuttals = [r for r in brief["relations"] if r["type"] == "rebuts"]
    lines += ["## Rebuttals", ""]
    if not rebuttals:
        lines += ["_None found._", ""]
    for rel in rebuttals:
        source, target = claims[rel["source"]], claims[rel["target"]]
        lines += [
            f"- **{source['id']}** ({_md_inline(_speaker_label(source))}) rebuts **{target['id']}** "
            f"({_md_inline(_speaker_label(target))})",
            f"  - {target['id']}: “{_md_inline(target['quote'])}”",
            f"  - {source['id']}: “{_md_inline(source['quote'])}”",
        ]
    others = [r for r in brief["relations"] if r["type"] != "rebuts"]
    if others:
        lines += ["", "## Other relations", ""]
        lines += [f"- **{r['source']}** {r['type']} **{r['target']}**" for r in others]
    lines.append("")
    return "\n".join(lines + _accounting(brief))


def _accounting(brief: Brief) -> list[str]:
    """What was not kept (rejections, failures) and what the brief came from (provenance, calls, tokens)."""
    lines: list[str] = []
    if brief["rejected"]:
        lines += [
            f"## Rejected ({len(brief['rejected'])})",
            "",
            "Proposed by the extractor but not kept, so nothing is dropped silently:",
            "",
        ]
        for item in brief["rejected"]:
            proposed = item["item"].get("quote") or f"{item['item'].get('source')} → {item['item'].get('target')}"
            reason = _md_inline(item["reason"])
            lines.append(f"- {item['stage']}, chunk {item['chunk']}: {reason} — “{_md_inline(str(proposed))}”")
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
