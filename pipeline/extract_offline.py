"""The offline backend: deterministic claim and rebuttal extraction with no network and no model.

Input: a ``Chunk``. Output: the same payload an LLM returns (validated against the same schema by the
runner), built from general signals only:
- sentences of each post (quoted lines, titles, name lines and fragments are not claims), scored by
  argumentative language (stance verbs, modals, evaluation, negation, causal connectives);
- "because / for example" sentences become premises supporting the claim before them;
- replies: the post's parent (its ``parent_id``, or the previous post when the input has no reply
  structure) is the target; disagreement markers → rebuts, agreement → agrees, agreement with a
  contrast ("I agree ..., but") → qualifies, a question echoing the parent → rebuts; the target claim
  is the parent's sentence most similar to the reply.
Failure modes: none; a post with no claim-like sentence yields no claim.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from .chunk import sentence_spans
from .models import Chunk, ChunkExtraction, ChunkPost, Claim, Post, Relation, Usage

RULES_VERSION = "offline-1"
MAX_CLAIMS_PER_POST = 3
MIN_WORDS = 4
PLAIN_TEXT_REPLY_WINDOW = 4  # posts back a reply may answer when the input has no reply structure
QUOTE_MATCH_MIN_SIMILARITY = 0.3  # word overlap between a quoted line and the parent sentence it quotes

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its "
    "this that these those i you he she we they me him her us them my your our their not no do does did "
    "have has had will would can could should may might must just very more most also than there here "
    "what which who whom when where why how all any some such only own same too s t don't i'm it's".split()
)
_ARGUMENT = re.compile(
    r"\b(i (?:think|believe|argue|suspect|expect|doubt|worry|agree|disagree|mean|find|feel|know)|"
    r"should|must|need(?:s)? to|ought|cannot|can't|won't|wouldn't|shouldn't|isn't|aren't|doesn't|don't|"
    r"because|therefore|thus|hence|so that|which means|probably|likely|unlikely|clearly|obviously|"
    r"certainly|definitely|wrong|right|true|false|better|worse|best|worst|important|valuable|useful|"
    r"dangerous|harmful|necessary|sufficient|insufficient|problem|reason|evidence|the (?:only|main|real) )",
    re.IGNORECASE,
)
_PREMISE_START = re.compile(r"^(?:because|since|for (?:example|instance)|e\.g\.|after all|given that)\b", re.IGNORECASE)
_AGREE = re.compile(
    r"\b(i (?:completely |fully |totally |mostly |largely )?agree|great point|good point|fair point|makes sense|"
    r"you(?:'re| are) (?:right|correct)|exactly|that's true|true,|indeed|yes,)",
    re.IGNORECASE,
)
_CONTRAST = re.compile(r"\b(but|however|although|though|yet|that said|still)\b", re.IGNORECASE)
_DISAGREE = re.compile(
    r"\b(i disagree|i don't (?:think|agree|see|buy|believe)|i do not (?:think|agree|believe)|"
    r"not (?:true|really|necessarily|quite|the case)|that's (?:not|wrong)|this (?:proves too much|is wrong)|"
    r"wrong|no,|nope|i doubt|i find (?:it |this )?unlikely|i'm (?:not sure|skeptical|strongly against)|"
    r"on the contrary|doesn't follow|not convinced|the wrong)",
    re.IGNORECASE,
)
_TERMINAL = re.compile(r"[.!?:;)\"”’]$")


@dataclass
class Sentence:
    post: Post
    text: str
    index: int  # position in the post
    score: float
    kind: str
    quoted: bool  # on a line quoting another post (">" or "&gt;"): evidence of what a reply answers


def _fold(text: str) -> str:
    return text.replace("\u2019", "'").replace("\u2018", "'")


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(_fold(text).lower()) if w not in _STOPWORDS and len(w) > 2}


def _looks_like_title(text: str) -> bool:
    words = text.split()
    if _TERMINAL.search(text) or len(words) > 14:
        return False
    capitalised = sum(1 for w in words if w[:1].isupper())
    return capitalised * 2 >= len(words)


def sentences(cp: ChunkPost) -> list[Sentence]:
    """Every sentence of the post, quoted ones flagged."""
    quoted_ranges = cp.quoted_spans()
    found: list[Sentence] = []
    for index, (start, end) in enumerate(sentence_spans(cp.text)):
        text = cp.text[start:end].strip()
        if not text:
            continue
        folded = _fold(text)
        score = 1.0 + len(_ARGUMENT.findall(folded)) + (0.5 if index == 0 else 0.0)
        kind = "question" if text.endswith("?") else "premise" if _PREMISE_START.match(folded) else "claim"
        quoted = any(a <= start < b for a, b in quoted_ranges)
        found.append(Sentence(cp.post, text, index, score, kind, quoted))
    return found


def claim_candidates(every: list[Sentence]) -> list[Sentence]:
    """The sentences that may be the author's own claims: not quoted, not fragments, not titles."""
    return [s for s in every if not s.quoted and len(s.text.split()) >= MIN_WORDS and not _looks_like_title(s.text)]


def select_claims(candidates: list[Sentence]) -> list[Sentence]:
    strong = [s for s in candidates if s.score >= 2.0]
    chosen = sorted(strong, key=lambda s: (-s.score, s.index))[:MAX_CLAIMS_PER_POST]
    if not chosen and candidates:
        chosen = [max(candidates, key=lambda s: (len(s.text.split()) >= 6, s.score, -s.index))]
    return sorted(chosen, key=lambda s: s.index)


def stance(text: str) -> str | None:
    """The reply's stance toward its parent from its opening: rebuts | agrees | qualifies | None."""
    folded = _fold(text)
    if _AGREE.search(folded):
        return "qualifies" if _CONTRAST.search(folded) else "agrees"
    if _DISAGREE.search(folded):
        return "rebuts"
    return None


def similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


class _Payload:
    def __init__(self) -> None:
        self.claims: list[dict[str, Any]] = []
        self.relations: list[dict[str, str]] = []
        self._ids: dict[tuple[str, str], str] = {}

    def claim(self, sentence: Sentence) -> str:
        key = (sentence.post.id, sentence.text)
        if key not in self._ids:
            local = f"k{len(self._ids) + 1}"
            self._ids[key] = local
            # No model, so no paraphrase: the claim's text is its sentence, and the brief says it once.
            self.claims.append(
                {
                    "id": local,
                    "post_id": sentence.post.id,
                    "kind": sentence.kind,
                    "text": sentence.text,
                    "quote": sentence.text,
                }
            )
        return self._ids[key]

    def relate(self, source: str, target: str, type_: str) -> None:
        relation = {"source": source, "target": target, "type": type_}
        if source != target and relation not in self.relations:
            self.relations.append(relation)


def _closest(sentences_: list[Sentence], words: set[str]) -> tuple[float, Sentence] | None:
    scored = [(similarity(words, content_words(s.text)), s) for s in sentences_]
    return max(scored, key=lambda pair: (pair[0], -pair[1].index), default=None)


def extract_payload(chunk: Chunk) -> dict[str, Any]:
    payload = _Payload()
    shown: dict[str, ChunkPost] = {cp.post.id: cp for cp in chunk.context}
    shown.update({cp.post.id: cp for cp in chunk.posts})
    every: dict[str, list[Sentence]] = {pid: sentences(cp) for pid, cp in shown.items()}
    candidates = {pid: claim_candidates(found) for pid, found in every.items()}
    has_reply_structure = any(cp.post.parent_id for cp in shown.values())
    earlier: list[ChunkPost] = []
    for cp in chunk.posts:
        own = select_claims(candidates[cp.post.id])
        local_ids = [payload.claim(s) for s in own]
        for sentence, local in zip(own, local_ids, strict=True):
            if sentence.kind == "premise" and sentence is not own[0]:
                anchor = own[own.index(sentence) - 1]
                payload.relate(local, payload.claim(anchor), "supports")
        earlier.append(cp)
        # The reply target: the parent when the input says; else (plain text) one of the last few posts.
        if has_reply_structure:
            parents = [shown[cp.post.parent_id]] if cp.post.parent_id in shown else []
        else:
            parents = earlier[-PLAIN_TEXT_REPLY_WINDOW - 1 : -1]
        targets = [s for p in parents for s in candidates[p.post.id]]
        if not own or not targets:
            continue
        # Quote-reply: the words a reply quotes name the sentence it answers, and the text below answers it.
        linked = False
        for quote in (s for s in every[cp.post.id] if s.quoted):
            answer = next((s for s in own if s.index > quote.index), None)
            best = _closest(targets, content_words(quote.text))
            if answer is not None and best is not None and best[0] >= QUOTE_MATCH_MIN_SIMILARITY:
                payload.relate(payload.claim(answer), payload.claim(best[1]), stance(answer.text) or "rebuts")
                linked = True
        if linked or (cp.part is not None and cp.part[0] > 1):
            continue
        opening = " ".join(s.text for s in every[cp.post.id] if not s.quoted)[:400]
        kind = stance(opening)
        reply_words = content_words(cp.text)
        if kind is None and own[0].kind == "question":
            kind = "rebuts" if any(similarity(reply_words, content_words(p.text)) > 0.05 for p in parents) else None
        if kind:
            distance = {p.post.id: len(parents) - i for i, p in enumerate(parents)}
            target = max(
                targets,
                key=lambda s: (similarity(reply_words, content_words(s.text)), -distance[s.post.id], s.score),
            )
            payload.relate(local_ids[0], payload.claim(target), kind)
    return {"claims": payload.claims, "relations": payload.relations}


def extractive_summary(title: str, claims: list[Claim], relations: list[Relation]) -> str:
    if not claims:
        return f"No claims were found in “{title}”."
    speakers = sorted({c.speaker for c in claims if c.speaker})
    by_id = {c.id: c for c in claims}
    counts = Counter(r.type for r in relations)
    who = (
        f"{len(speakers)} speaker(s) ({', '.join(speakers[:5])}{', …' if len(speakers) > 5 else ''})"
        if speakers
        else "unattributed posts"
    )
    parts = [
        f"{len(claims)} claims from {who}; {counts['rebuts']} rebuttal(s), {counts['agrees']} agreement(s), "
        f"{counts['qualifies']} qualification(s), {counts['supports']} support link(s).",
        f"It opens with {claims[0].id}: “{claims[0].quote}”",
    ]
    rebutted = Counter(r.target for r in relations if r.type == "rebuts")
    if rebutted:
        target_id, _ = min(rebutted.items(), key=lambda item: (-item[1], int(item[0][1:])))
        sources = sorted(
            {r.source for r in relations if r.type == "rebuts" and r.target == target_id},
            key=lambda cid: int(cid[1:]),
        )
        first = by_id[sources[0]]
        parts.append(
            f"Most contested: {target_id} (“{by_id[target_id].quote}”), rebutted by "
            f"{', '.join(sources)}, e.g. “{first.quote}”"
        )
    return " ".join(parts)


class OfflineExtractor:
    name = "offline"
    model: str | None = None
    fingerprint = hashlib.sha256(f"offline:{RULES_VERSION}".encode()).hexdigest()

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        return ChunkExtraction(chunk.id, extract_payload(chunk), Usage())

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        return extractive_summary(title, claims, relations), Usage()
