"""The offline backend: deterministic claim and rebuttal extraction with no network and no model.

Input: a ``Chunk``. Output: the same payload an LLM returns (claims citing shown posts, relations
between them), built from general signals only, never from thread-specific rules:
- segments: each post's sentences, split into clauses at "; ", ": " and contrast connectives
  ("..., but ..."), since an argument's units are often clauses, though never inside a parenthesis or
  a quotation, which would leave half of it in each quote; quoted text (``Post.quoted``),
  fragments, title lines inside a post, edits and thanks are never the author's claims;
- claims: segments scored as log-odds of being a claim rather than a premise or an aside, from
  stance verbs, modals, evaluation, hedges, copulas (positive) and links, examples, questions,
  conditions, causal openings, quotation marks, first-person plural, narration (negative), length and
  position (a one-segment post is its point; a post's opening states it). A post that argues makes at
  least one claim. The thread title (post ``title``) is its opening author's thesis. The weights were
  fitted as a logistic model on annotated debates (see README, "Evaluation"); premises directly after
  a claim in the same sentence support it;
- replies: the parent (``parent_id``; with no reply structure, one of the few posts before) is what a
  reply answers. A quote-reply answers the quoted words: the segment after the quote responds to the
  parent segment the quote repeats. Otherwise the reply's strongest claim and its opening respond to
  the parent's thesis (the title, for a reply to the opening post), or in plain text to the earlier
  segment sharing most words. The stance comes from the post's first two sentences, fragments included
  (a bare "Interesting." or "Exactly." is no claim but says where the reply stands): agreement → agrees, agreement
  limited by a condition → qualifies, agreement followed by "but" (a concession) → rebuts; anything
  else rebuts, except a short reply with no sign of disagreement (an aside), and in plain text, where
  consecutive posts may be one author going on, only an explicit disagreement marker makes a rebuttal.
Failure modes: none; a post with no claim-like segment yields no claim.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .extract import Extractor
from .models import TITLE_POST_ID, Chunk, ChunkExtraction, ChunkPost, Claim, Post, Relation, Usage
from .text import PUNCTUATION_TABLE, sentence_spans

RULES_VERSION = "offline-8"
CLAIM_THRESHOLD = -0.8  # claim log-odds above which a segment is a claim (else a premise)
MIN_WORDS = 4  # shorter segments are fragments, unless they state a stance ("I completely disagree.")
MIN_CLAUSE_WORDS = 4  # a clause break needs this many words on both sides
PLAIN_TEXT_REPLY_WINDOW = 4  # posts back a reply may answer when the input has no reply structure
QUOTE_MATCH_MIN_SIMILARITY = 0.3  # word overlap between a quoted line and the parent segment it quotes
SOURCES_PER_REPLY = 2  # a reply's strongest claim and its opening
SHORT_REPLY_WORDS = 15  # below this, a reply with no sign of disagreement is an aside
OPENING_SENTENCES = 2  # a reply's stance is read from its first sentences (clauses split a concession's "but")

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its "
    "this that these those i you he she we they me him her us them my your our their not no do does did "
    "have has had will would can could should may might must just very more most also than there here "
    "what which who whom when where why how all any some such only own same too s t don't i'm it's "
    "think believe agree disagree feel guess point really just like".split()
)
# A clause boundary: "; " and ": " are dropped; a contrast connective starts the new clause.
_CLAUSE_MARKS = (";", ":", "ut", "hough", "hereas")  # substrings every clause break contains (any case)
_CLAUSE_BREAK = re.compile(r"\s*[;:]\s+|\s*,?\s+(?=(?:but|though|although|whereas)\b)", re.IGNORECASE)
# Segment patterns are lower case and searched in a segment's lowered text: every segment meets them, and a
# case-insensitive search takes about twice as long.
_STANCE_VERB = re.compile(
    r"\b(?:i (?:really |honestly |personally |still |also |just )?(?:think|believe|feel|argue|guess|suspect|doubt|"
    r"agree|disagree|would argue|maintain|contend)|in my (?:opinion|view)|imo|imho|my (?:view|point|opinion) is)\b"
)
_EXAMPLE = re.compile(r"\b(?:for example|for instance|e\.g\.|such as)\b")
_META = re.compile(r"^(?:edit|update|thanks|thank you|cheers|hi|hello|source|sources|tl;?dr)\b|∆|&amp;#8710;")
_AGREE = re.compile(
    r"\b(?<!n't )(?<!not )(i (?:\w+ ){0,2}agree|great point|good point|fair point|interesting point|makes sense|"
    r"you(?:'re| are) (?:right|correct)|exactly right|that's (?:true|fair)|that may be true|fair enough|"
    r"i see your point|thanks for|thank you|∆|&amp;#8710;)"
    r"|^(?:(?:well|oh|ah)\W+)?(?:sure|okay|ok|yeah|yes|true|right|exactly|indeed|interesting|i suppose|hm+)\b",
    re.IGNORECASE,
)
# Any sign of disagreement: a short reply without one is an aside.
_DISAGREE = re.compile(
    r"\b(?:disagree|not|never|no|nope|wrong|doubt|\w+n't|but|however|actually|why|how)\b|\?", re.IGNORECASE
)
# Without reply structure (plain text), consecutive posts may be one author going on: only an explicit
# marker makes a post a response to the ones before it.
_EXPLICIT_DISAGREE = re.compile(
    r"\b(?:i (?:\w+ )?disagree|i don't (?:think|agree|buy|believe)|i do not (?:think|agree|believe)|not true|"
    r"that's (?:not|wrong)|this (?:proves too much|is wrong|seems wrong)|wrong|i doubt(?! (?:that )?i\b)|"
    r"(?:find|is) (?:it |this )?unlikely|i'm (?:not sure|skeptical|strongly against)|on the contrary|"
    r"doesn't follow|not convinced)\b",
    re.IGNORECASE,
)
# An agreement limited by a condition qualifies; an agreement followed by "but" rebuts (a concession).
_CONDITION = re.compile(r"\b(?:only if|as long as|unless|except|provided that|depends on)\b", re.IGNORECASE)
_CONTRAST = re.compile(r"\b(?:but|however|although|though|that said)\b", re.IGNORECASE)
# How a sentence ends; a closing bracket only after one of these ("(... Sonnet.)"), since a title may end in
# a parenthesis ("Task decomposition (AGISF Distillation)"); a trailing emoticon is no ending.
_TERMINAL = re.compile(r"[.!?:;\"”’]\)?$")
_EMOTICON = re.compile(r"\s+[:;]-?[()DPp]$")
# Title case leaves these small words in lower case.
_TITLE_SMALL_WORDS = frozenset("a an the and or but nor for of in on at to by with from as vs via per".split())


@dataclass(slots=True)
class Segment:
    post: Post
    text: str
    index: int  # position among the post's segments
    sentence: int  # position of its sentence in the post
    quoted: bool  # inside text the post quotes from another post
    score: float = 0.0
    kind: str = "claim"
    candidate: bool = False  # may be the author's own unit (see is_candidate)
    # Every segment is scored, and scoring reads all of these: computed once, up front.
    folded: str = field(init=False)
    lowered: str = field(init=False)
    tokens: list[str] = field(init=False)
    words: set[str] = field(init=False)

    def __post_init__(self) -> None:
        self.folded = _fold(self.text)
        self.lowered = self.folded.lower()
        self.tokens = _WORD.findall(self.lowered)
        self.words = _content(self.tokens)


def _fold(text: str) -> str:
    # Most text is ASCII, where the table's only entry is the backtick: skip the per-character pass.
    if text.isascii() and "`" not in text:
        return text
    return text.translate(PUNCTUATION_TABLE)


def _content(tokens: list[str]) -> set[str]:
    return {w for w in tokens if w not in _STOPWORDS and len(w) > 2}


def content_words(text: str) -> set[str]:
    return _content(_WORD.findall(_fold(text).lower()))


def similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


# A segment that is one short bracketed label, not a sentence ("[deleted]", "[removed]", "[image]", "[patch
# not shown: 279 lines]"): a platform's or importer's placeholder for what is not there, never anyone's claim.
# A bracketed sentence ("[Edit: it looks like I was wrong.]") is the author's own words and stays a candidate.
_EDITORIAL_NOTE = re.compile(r"\[(?:[^\[\].!?\s]+\s?){1,8}\]")


def _looks_like_title(text: str) -> bool:
    text = _EMOTICON.sub("", text)
    words = text.split()
    if _TERMINAL.search(text) or len(words) > 14:
        return False
    # Words that title case would capitalise; numbers ("100X") say nothing either way.
    cased = [w for w in (w.strip("([\"“‘'") for w in words) if w.lower() not in _TITLE_SMALL_WORDS and w[:1].isalpha()]
    capitalised = sum(1 for w in cased if w[:1].isupper())
    return bool(cased) and capitalised * 2 >= len(cased)


def _open_enclosure(text: str) -> bool:
    """Whether text leaves a parenthesis, bracket or quotation open: a break there would cut it in two."""
    return (
        text.count("(") > text.count(")")
        or text.count("[") > text.count("]")
        or text.count("“") > text.count("”")
        or text.count('"') % 2 == 1
    )


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Split text[start:end] at clause breaks, keeping clauses of at least MIN_CLAUSE_WORDS words."""
    sentence = text[start:end]
    if not any(mark in sentence for mark in _CLAUSE_MARKS):  # most sentences: skip the regex scan
        return [(start, end)]
    spans: list[tuple[int, int]] = []
    begin = start
    for match in _CLAUSE_BREAK.finditer(text, begin, end):
        before, after = text[begin : match.start()], text[match.end() : end]
        if _open_enclosure(before):
            continue  # inside a parenthesis ("(edit: ...)") or a quotation ("“reduces but does not eliminate”")
        if len(before.split()) >= MIN_CLAUSE_WORDS and len(after.split()) >= MIN_CLAUSE_WORDS:
            spans.append((begin, match.start()))
            begin = match.end()
    spans.append((begin, end))
    return spans


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The claim model: a logistic model whose features are signals of a claim (a position taken) against a
# premise (evidence, example, condition) or an aside; only general language features, each readable on its
# own, and each 0 or 1. bench/fit_claims.py fits these weights on annotated threads and reports the claim
# F1 they reach on threads they were not fitted on.
CLAIM_WEIGHTS: dict[str, float] = {
    "bias": -0.8,
    "obligation": 0.6,
    "evaluation": 0.55,
    "copula": 0.55,
    "modal": 0.35,
    "hedge": 0.65,
    "negation": 0.25,
    "contracted_negation": 0.25,  # "isn't" with no "not", "never" or "no" beside it
    "second_person": 0.25,
    "comparison": 0.15,
    "first_person_plural": -0.35,
    "narration": -0.15,
    "generalization": -0.3,
    "opens_with_reference": 0.3,
    "opens_with_conclusion": 0.15,
    "opens_with_cause": -0.75,
    "opens_with_condition": -0.4,
    "stance_verb": 1.5,
    "need_to": 0.6,
    "example": -0.75,
    "link": -1.75,
    "quotation": -0.6,
    "exclamation": -0.25,
    "question": -0.8,
    "under_6_words": -0.75,
    "under_9_words": -0.15,  # 6 to 8
    "over_29_words": -0.75,
    "only_segment": 0.6,  # a one-segment post is its point
    "first_segment": 0.3,  # a post's opening states it more often than what follows
    "first_sentence": 0.5,
    "in_opening_post": -0.4,  # an opening post spends more of its words on background than a reply does
}
# Word-list signals are set lookups on the segment's words (a regex alternation per signal was most of the
# offline extractor's time); phrases and anchors stay regexes.
_WORD_SIGNALS: tuple[tuple[str, frozenset[str]], ...] = (
    ("obligation", _words("should shouldn't must ought cannot can't")),
    (
        "evaluation",
        _words(
            "good bad better worse best worst wrong right fair unfair important valid invalid ridiculous absurd "
            "reasonable unreasonable true false justified unjustified moral immoral ethical unethical harmful "
            "dangerous beneficial necessary pointless useless worth problem mistake fault responsible"
        ),
    ),
    ("copula", _words("is are isn't aren't")),
    ("modal", _words("would could might may")),
    ("hedge", _words("probably likely seem seems perhaps maybe possibly generally usually")),
    ("negation", _words("not never no")),
    ("second_person", _words("you your you're")),
    ("comparison", _words("more less than")),
    ("first_person_plural", _words("we us our")),
    ("narration", _words("was were did had went said saw grew got told")),
    ("generalization", _words("people everyone society most many all nobody anyone")),
)
_OPENING_SIGNALS: tuple[tuple[str, frozenset[str]], ...] = (
    ("opens_with_reference", _words("this that it")),
    ("opens_with_conclusion", _words("so therefore thus hence")),
    ("opens_with_cause", _words("because since as")),
    ("opens_with_condition", _words("if when unless")),
)
# (name, words one of which must be present, pattern): the gate skips most regex searches.
_PATTERN_SIGNALS: tuple[tuple[str, frozenset[str], re.Pattern[str]], ...] = (
    ("stance_verb", _words("i in imo imho my"), _STANCE_VERB),
    ("need_to", _words("need needs have has"), re.compile(r"\b(?:need|needs|have|has) to\b")),
    ("example", _words("example instance e g such"), _EXAMPLE),
)
# (name, strings one of which must occur in the lowered text): signals a substring test decides on its own.
_TEXT_SIGNALS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("link", ("://", "www.", "](")),
    ("quotation", ('"', "“", "”")),
    ("exclamation", ("!",)),
)


def claim_features(segment: Segment, count: int) -> list[str]:
    """The claim model's features a segment shows (``count``: segments in its post), "bias" first."""
    lowered, tokens = segment.lowered, segment.tokens
    present = set(tokens)
    found = ["bias"]
    found += [name for name, words in _WORD_SIGNALS if not words.isdisjoint(present)]
    if "n't" in lowered and any(token.endswith("n't") for token in tokens):
        if "not" not in present and "never" not in present and "no" not in present:
            found.append("contracted_negation")
    if tokens:
        found += [name for name, words in _OPENING_SIGNALS if tokens[0] in words]
    found += [name for name, gate, regex in _PATTERN_SIGNALS if not gate.isdisjoint(present) and regex.search(lowered)]
    found += [name for name, needles in _TEXT_SIGNALS if any(needle in lowered for needle in needles)]
    text = segment.folded
    if text.rstrip().endswith("?"):
        found.append("question")
    length = len(text.split())
    if length < 9:
        found.append("under_6_words" if length < 6 else "under_9_words")
    elif length >= 30:
        found.append("over_29_words")
    if count == 1:
        found.append("only_segment")
    elif segment.index == 0:
        found.append("first_segment")
    if segment.sentence == 0:
        found.append("first_sentence")
    if segment.post.parent_id is None and segment.post.id != TITLE_POST_ID:
        found.append("in_opening_post")
    return found


def claim_score(segment: Segment, count: int) -> float:
    """Log-odds that a segment is the author's claim rather than a premise or an aside."""
    return sum(CLAIM_WEIGHTS[name] for name in claim_features(segment, count))


def segments(cp: ChunkPost) -> list[Segment]:
    """The post's clauses in order; quoted ones flagged; fragments, titles and asides dropped."""
    quoted_ranges = cp.quoted_spans()
    found: list[Segment] = []
    for number, (sentence_start, sentence_end) in enumerate(sentence_spans(cp.text)):
        for start, end in _clauses(cp.text, sentence_start, sentence_end):
            raw = cp.text[start:end]
            text = raw.strip().rstrip(",")
            if not text:
                continue
            quoted = any(a <= start + (len(raw) - len(raw.lstrip())) < b for a, b in quoted_ranges)
            found.append(Segment(cp.post, text, len(found), number, quoted))
    for segment in found:
        segment.candidate = is_candidate(segment)
        segment.score = claim_score(segment, len(found))
        if cp.post.id == TITLE_POST_ID:
            segment.kind, segment.score = "claim", segment.score + 1.75  # the opening author's thesis
        elif segment.text.endswith("?"):
            segment.kind = "question"
        elif segment.score < CLAIM_THRESHOLD:
            segment.kind = "premise"
    # Every post that argues makes at least one claim: its most claim-like segment, if none passed.
    own = [s for s in found if s.candidate and s.kind != "question"]
    if own and all(s.kind != "claim" for s in own):
        max(own, key=lambda s: (s.score, -s.index)).kind = "claim"
    return found


def is_candidate(segment: Segment) -> bool:
    """Could be the author's own unit: not quoted, not a fragment, a title line, or an aside."""
    return (
        not segment.quoted
        and (len(segment.text.split()) >= MIN_WORDS or bool(_STANCE_VERB.search(segment.lowered)))
        and not (_looks_like_title(segment.text) and segment.post.id != TITLE_POST_ID)
        and not _META.search(segment.lowered)
        and not _EDITORIAL_NOTE.fullmatch(segment.text)
    )


def stance(text: str) -> str:
    """A reply's stance toward what it answers, from its opening words: agrees | qualifies | rebuts."""
    folded = _fold(text).strip()
    if _AGREE.search(folded):
        if _CONTRAST.search(folded):
            return "rebuts"
        return "qualifies" if _CONDITION.search(folded) else "agrees"
    return "rebuts"


class _Payload:
    def __init__(self) -> None:
        self.claims: list[dict[str, Any]] = []
        self.relations: list[dict[str, str]] = []
        self._ids: dict[tuple[str, str], str] = {}

    def claim(self, segment: Segment) -> str:
        key = (segment.post.id, segment.text)
        if key not in self._ids:
            local = f"k{len(self._ids) + 1}"
            self._ids[key] = local
            # No model, so no paraphrase: the claim's text is its words, and the brief says them once.
            self.claims.append(
                {
                    "id": local,
                    "post_id": segment.post.id,
                    "kind": segment.kind,
                    "text": segment.text,
                    "quote": segment.text,
                }
            )
        return self._ids[key]

    def relate(self, source: str, target: str, type_: str) -> None:
        relation = {"source": source, "target": target, "type": type_}
        if source != target and relation not in self.relations:
            self.relations.append(relation)


def _unique(segments_: list[Segment | None]) -> list[Segment]:
    kept: list[Segment] = []
    for segment in segments_:
        if segment is not None and all(segment is not other for other in kept):
            kept.append(segment)
    return kept


def _thesis(candidates: list[Segment]) -> Segment | None:
    return max(candidates, key=lambda s: (s.kind == "claim", s.score, -s.index), default=None)


def _answered_posts(
    cp: ChunkPost, shown: dict[str, ChunkPost], earlier: list[ChunkPost], has_reply_structure: bool
) -> list[ChunkPost]:
    """The posts a reply may answer: its parent (and the title, for a reply to the opening post); in
    plain text, the few posts before it."""
    if not has_reply_structure:
        return earlier[-PLAIN_TEXT_REPLY_WINDOW:]
    parent = shown.get(cp.post.parent_id or "")
    if parent is None:
        return []
    title = shown.get(TITLE_POST_ID)
    opening_post = parent.post.parent_id is None and parent.post.id != TITLE_POST_ID
    return [parent, title] if title is not None and opening_post else [parent]


def _link_quote_replies(payload: _Payload, quoting: list[Segment], own: list[Segment], targets: list[Segment]) -> bool:
    """Each quoted passage names the segment answered; the reply's next own segment answers it."""
    linked = False
    for quote in quoting:
        answer = next((s for s in own if s.index > quote.index), None)
        best = max(targets, key=lambda t: (similarity(quote.words, t.words), -t.index))
        if answer is not None and similarity(quote.words, best.words) >= QUOTE_MATCH_MIN_SIMILARITY:
            payload.relate(payload.claim(answer), payload.claim(best), stance(answer.text))
            linked = True
    return linked


def extract_payload(chunk: Chunk) -> dict[str, Any]:
    payload = _Payload()
    shown: dict[str, ChunkPost] = {cp.post.id: cp for cp in chunk.context}
    shown.update({cp.post.id: cp for cp in chunk.posts})
    every = {pid: segments(cp) for pid, cp in shown.items()}
    candidates = {pid: [s for s in found if s.candidate] for pid, found in every.items()}
    has_reply_structure = any(cp.post.parent_id for cp in shown.values())
    earlier: list[ChunkPost] = []
    for cp in chunk.posts:
        own = candidates[cp.post.id]
        claims = [s for s in own if s.kind == "claim"]
        for segment in claims:
            payload.claim(segment)
        for previous, segment in zip(own, own[1:], strict=False):
            if segment.kind == "premise" and previous.kind == "claim" and previous.sentence == segment.sentence:
                payload.relate(payload.claim(segment), payload.claim(previous), "supports")
        answered = _answered_posts(cp, shown, earlier, has_reply_structure)
        earlier.append(cp)
        targets = [s for p in answered for s in candidates[p.post.id]]
        first_part = cp.part is None or cp.part[0] == 1
        if cp.post.id == TITLE_POST_ID or not own or not targets or not first_part:
            continue
        if _link_quote_replies(payload, [s for s in every[cp.post.id] if s.quoted], own, targets):
            continue
        unquoted = [s for s in every[cp.post.id] if not s.quoted]
        opening = sorted({s.sentence for s in unquoted})[:OPENING_SENTENCES]
        kind = stance(" ".join(s.text for s in unquoted if s.sentence in opening))
        own_text = _fold(" ".join(s.text for s in unquoted))
        if kind == "rebuts" and not has_reply_structure and not _EXPLICIT_DISAGREE.search(own_text[:400]):
            continue
        if kind == "rebuts" and len(own_text.split()) < SHORT_REPLY_WORDS and not _DISAGREE.search(own_text):
            continue  # a short reply with no sign of disagreement is an aside, not a rebuttal
        # The reply's strongest claim and its opening answer the parent's thesis (the thread title, for a
        # reply to the opening post); in plain text, where the post answered is a guess, the earlier
        # segment closest to its words.
        sources = _unique([max(claims or own, key=lambda s: (s.score, -s.index)), own[0]])[:SOURCES_PER_REPLY]
        if has_reply_structure:
            title = next((s for s in targets if s.post.id == TITLE_POST_ID), None)
            target = title or _thesis(candidates[answered[0].post.id]) or targets[0]
        else:
            reply_words = content_words(" ".join(s.text for s in own))
            target = max(targets, key=lambda t: (similarity(reply_words, t.words), t.score))
        for source in sources:
            payload.relate(payload.claim(source), payload.claim(target), kind)
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


class OfflineExtractor(Extractor):
    """No context window (its overview is one extractive pass over every claim), no endpoint, no limiter."""

    name = "offline"
    model: str | None = None
    fingerprint = hashlib.sha256(f"offline:{RULES_VERSION}".encode()).hexdigest()

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        return ChunkExtraction(chunk.id, extract_payload(chunk), Usage())

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        return extractive_summary(title, claims, relations), Usage()
