"""The offline backend: deterministic claim and rebuttal extraction with no network and no model.

Input: a ``Chunk``. Output: the same payload an LLM returns (claims citing shown posts, relations
between them), built from general word classes of the literature cited beside each list (discourse-marker
and stance lexicons, argument indicators), never from phrases of particular threads:
- segments: each post's sentences, split into clauses at "; ", ": " and contrast connectives
  ("..., but ..."), never inside a parenthesis or a quotation; quoted text (``Post.quoted``), fenced code
  blocks (and indented ones whose lines mostly carry programming symbols), fragments, edit notes, greetings
  and placeholders ("[deleted]") are never the author's claims;
- claims: segments scored as log-odds of being a claim rather than a premise or an aside, by a logistic model
  over named 0/1 features (stance verbs, modals, evaluation, hedges, copulas, negation, links, examples,
  opening connectives, narration, length, position, the thread title). The weights, the threshold, the
  defaults' three score cuts and the three edge choices are loaded from ``pipeline/data/offline_model.json``,
  which bench/fit_claims.py writes (bench/crossval.py scores that fit on held-out threads). A post that argues
  makes at least one claim; premises directly after a claim in the same sentence support it;
- replies: the parent (``parent_id``; with no reply structure, one of the few posts before) is what a reply
  answers. A reply gets a stance relation only on textual evidence (``reply_stance``): an agreement in its
  opening agrees (limited by a condition: qualifies; turned by a following "but"/"however": rebuts); an
  acknowledgement turned by a contrast ("That may be true, but ...") rebuts, unless it grants only how the
  speaker's own words sound ("I know it sounds crazy, but ..."); so do an explicit disagreement ("I disagree",
  "that's not true"), a denying or contrasting opener after a statement or a question stating a belief ("No,
  ...", "Actually, ..."), a clause contradicting an answered clause (most of its content words shared, opposite
  polarity), and a challenge question ("Why would ...?", "Isn't that ...?"). In an argumentative exchange the
  default is an attack (``argued_reply``): a reply showing none of these, whose strongest statement takes a position
  (claim-like by the fitted scores, a stance or assertion marker, no question, no first-person narration or
  habit: "I always ...")
  against a post that takes one (its thesis, or the title for a reply to the opening post; the post asks for
  no help or information), and which opens with no thanks, praise, condolence, "same here", question or story,
  rebuts. Anything else -- thanks, consolation, anecdotes, jokes, information questions, announcements -- gets
  no stance relation (the reply link stays in the post structure), and neither does a reply to the author's
  own post. An answer to a post that itself rebuts goes on with the argument: the default does not ask that
  post's thesis to pass the cut. A quote-reply answers the quoted words: each quoted passage names the parent
  segments it repeats (the most claim-like of them is the target), and the reply's words up to the next
  passage take the stance they show toward it; showing none, an argued answer (``quote_counter``: a claim
  taking a position, the quote not a question, no thanks or story first) counters it. The sources of a
  rebuttal are the answer's strongest claim and then its clauses in order from the opening, claim or premise
  (``sources_per_reply`` in all). Without a quote they answer the parent's thesis (the title, for a reply to
  the opening post) and, with ``opening_target``, the parent's opening clause (for a reply to the opening
  post the title stays the only target), plus, with ``evidence_edges``, the contradicting clause against the
  one it contradicts. In plain text, where consecutive posts may be one author going on, only an explicit
  disagreement marker makes a rebuttal.
Failure modes: none at extraction (a post with no claim-like segment yields no claim); importing the module
raises if the model file is missing or names other features than ``CLAIM_FEATURES``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .extract import Extractor
from .models import TITLE_POST_ID, Chunk, ChunkExtraction, ChunkPost, Claim, Post, Relation, Usage
from .text import PUNCTUATION_TABLE, sentence_spans

RULES_VERSION = "offline-14"
MIN_WORDS = 4  # shorter segments are fragments, unless they state a stance ("I completely disagree.")
MIN_CLAUSE_WORDS = 4  # a clause break needs this many words on both sides
PLAIN_TEXT_REPLY_WINDOW = 4  # posts back a reply may answer when the input has no reply structure
QUOTE_MATCH_MIN_SIMILARITY = 0.3  # word overlap between a quoted line and the parent segment it quotes
OPENING_SENTENCES = 2  # agreement and concession are read from a reply's first sentences
# Two clauses are taken to speak of the same thing when they share this many content words (not one: a
# condolence "I can't imagine losing a wife" shares only "wife" with "My wife passed away").
SHARED_WORDS_FOR_CONTRADICTION = 2
ALIGNED_SHARE = 3  # ... and at least a third of the reply clause's content words

_WORD = re.compile(r"[a-z0-9']+")
_STOPWORDS = frozenset(
    "a an the and or but if then so of to in on at by for with from as is are was were be been being it its "
    "this that these those i you he she we they me him her us them my your our their not no do does did "
    "have has had will would can could should may might must just very more most also than there here "
    "what which who whom when where why how all any some such only own same too s t don't i'm it's "
    "think believe agree disagree feel guess point really just like".split()
)
# A clause boundary: "; " and ": " are dropped; a contrast connective starts the new clause (PDTB 2.0
# Comparison.Contrast/Concession connectives, Prasad et al. 2008).
_CLAUSE_MARKS = (";", ":", "ut", "hough", "hereas")  # substrings every clause break contains (any case)
_CLAUSE_BREAK = re.compile(r"\s*[;:]\s+|\s*,?\s+(?=(?:but|though|although|whereas)\b)", re.IGNORECASE)
# Segment patterns are lower case and searched in a segment's lowered text: every segment meets them, and a
# case-insensitive search takes about twice as long.
# Self-mention with a stance verb, and the stance phrases built on "opinion"/"view": Hyland's (2005)
# self-mentions + hedging/boosting verbs, the "thesis indicators" of Stab & Gurevych (2017).
_STANCE_VERB = re.compile(
    r"\b(?:i (?:really |honestly |personally |still |also |just )?(?:think|believe|feel|argue|guess|suspect|doubt|"
    r"agree|disagree|would argue|maintain|contend)|in my (?:opinion|view)|imo|imho|my (?:view|point|opinion) is)\b"
)
# Exemplification markers (Hyland's 2005 code glosses; Stab & Gurevych's 2017 backward indicators).
_EXAMPLE = re.compile(r"\b(?:for example|for instance|e\.g|such as)\b")
# Meta-discourse a post opens with that is not its argument: edit notes, greetings, thanks, source lists, a
# summary line, and Reddit's delta award (∆, also HTML-escaped in exports).
_META = re.compile(r"^(?:edit|update|thanks|thank you|cheers|hi|hello|source|sources|tl;?dr)\b|∆|&amp;#8710;")

# --- stance lexicons -----------------------------------------------------------------------------------------
# Each is a general class from the literature on (dis)agreement in online dialogue, never phrases collected
# from evaluation threads: Abbott et al. 2011 ("How can you say such things?!?", the IAC cue words: "really",
# "actually", "no", "but", "yes", "so", "oh"); Misra & Walker 2013 (topic-independent (dis)agreement cues);
# Hyland 2005 (stance and engagement markers); Biber et al. 1999 (stance adverbials); the PDTB 2.0 connectives
# (Prasad et al. 2008); Stab & Gurevych 2017 (argument indicators, rebuttal indicators); de Marneffe et al.
# 2008 (contradiction as a polarity difference between aligned statements). The lists were written for this
# module after the classes these works describe, not copied from them; the references here and below are cited
# from memory and were not rechecked against the papers.
#
# Agreement: explicit agreement phrases and the affirmative response tokens a turn opens with ("yes", "yeah",
# "right", "true", "exactly", "sure", "indeed": Misra & Walker's agreement cues). Gratitude is not agreement.
_AGREE = re.compile(
    r"(?<!n't )(?<!not )\b(?:i (?:(?!not\b|never\b|\w+n't\b)\w+ ){0,2}agree|good point|fair point|great point|"
    r"makes sense|sounds (?:good|right|reasonable)|"
    r"you(?:'re| are) (?:absolutely |completely |quite )?(?:right|correct)|that's (?:true|fair|right)|"
    r"that is (?:true|fair|right)|fair enough|i see your point|point taken|you(?:'ve)? changed my (?:view|mind))\b"
    r"|∆|&amp;#8710;",
    re.IGNORECASE,
)
# Response tokens at a turn's start (Schegloff 2007; Misra & Walker 2013): after a statement they agree or
# deny; after a question they only answer it, so they are read only when what they answer asks nothing (or asks
# a question that states a belief, ``_BELIEF_QUESTION``).
_AFFIRMING_OPENER = re.compile(
    r"^(?:sure|okay|ok|yeah|yes|yep|true|right|exactly|indeed|agreed|absolutely|definitely|granted)\b", re.IGNORECASE
)
# A turn that opens with a contrastive connective or adverbial contrasts with the turn it answers ("But ...",
# "Actually, ...", "In fact ...": turn-initial "actually" and "but" are among the strongest disagreement cues of
# Abbott et al. 2011; PDTB Comparison connectives; Biber's actuality stance adverbials). After a question, like
# the response tokens, it opens an answer that departs from what the question expects ("Actually, the small ones
# drift"), which corrects no statement.
_CONTRASTING_OPENER = re.compile(
    r"^(?:but|however|actually|in fact|except|on the contrary|then again|rather|still|yet)\b", re.IGNORECASE
)
_DENYING_OPENER = re.compile(
    r"^(?:no|nope|not really|not necessarily|not quite)\b(?!\s+(?:problem|worries|worry|idea|doubt)\b)", re.IGNORECASE
)
# Acknowledging the other side without agreeing ("I understand ...", "Granted, ...", "That may be ...",
# "Admittedly"): a concession when a contrast follows (Stab & Gurevych's 2017 rebuttal indicators; Hyland's
# concessive hedges), else no stance (understanding is not agreement).
_CONCEDE = re.compile(
    r"\b(?:i (?:can )?(?:understand|get|see) (?:that|it|this|what|where|why|how|your)|i know|admittedly|granted|"
    r"of course|to be fair|(?:that|this) (?:may|might|could) (?:well )?be (?:true|so|right|the case|fair)|"
    r"it's true that|it is true that|(?:while|although|though) (?:it's|it is|that's|that is) true)\b"
    r"|^(?:maybe|perhaps|possibly)\b",
    re.IGNORECASE,
)
# ... unless what it grants is how the speaker's own words come across ("I know it sounds crazy, but trust me"):
# a disclaimer that hedges the speaker's next claim, not a concession to the other side (Hewitt & Stokes 1975,
# "Disclaimers": the "cognitive disclaimer"; an evaluation of oddness or tone, the class of Hyland's attitude
# markers, aimed at the speaker's own saying).
_DISCLAIMER = re.compile(
    r"\s*(?:it|this|that)(?:'s| is| (?:may|might|will|would|could|must) )?\s*(?:sounds?|seems?|looks?) (?:\w+ )?"
    r"(?:crazy|weird|strange|odd|silly|stupid|harsh|insane|ridiculous|counterintuitive|counter-intuitive|mean|rude|"
    r"cheesy|cliche|cliché|obvious|dumb|naive|pedantic|nitpicky|petty)\b",
    re.IGNORECASE,
)
# An agreement limited by a condition qualifies (PDTB Contingency.Condition and Expansion.Exception
# connectives) ...
_CONDITION = re.compile(r"\b(?:only if|as long as|unless|except|provided that|depends on)\b", re.IGNORECASE)
# ... one followed by a concessive or contrastive connective turns against it (PDTB Comparison.Concession and
# Contrast; Stab & Gurevych's rebuttal indicators).
_CONTRAST = re.compile(
    r"\b(?:but|however|although|though|yet|nevertheless|nonetheless|even so|that said|on the other hand)\b",
    re.IGNORECASE,
)
# Explicit disagreement: a speaker saying they disagree, or that what was said is false (Misra & Walker's
# disagreement cues; Hyland's engagement markers aimed at the reader's claim; naming a fallacy).
_EXPLICIT_DISAGREE = re.compile(
    r"\b(?:i (?:\w+ )?disagree|i (?:don't|do not|can't|cannot) (?:agree|accept|buy)|i don't think so|"
    r"(?:that's|that is|this is|it's|it is) (?:\w+ )?(?:untrue|false|incorrect|wrong|nonsense|flawed|misleading|"
    r"irrelevant|absurd|a fallacy|a myth)|(?:not|isn't|aren't|wasn't) (?:\w+ )?(?:true|correct|accurate|the case)|"
    r"(?:your|this|that|the) (?:argument|logic|reasoning|premise|analogy|comparison|claim) (?:is|seems|sounds) "
    r"(?:\w+ )?(?:flawed|wrong|weak|invalid|irrelevant|misleading|absurd|false|incorrect|faulty)|"
    r"(?:you're|you are) (?:wrong|mistaken|incorrect)|not true|i (?:seriously |highly |really )?doubt (?:it|that|this|"
    r"whether|if)|(?:you're|you are) (?:ignoring|overlooking|conflating|misunderstanding|misreading|misrepresenting)|"
    r"on the contrary|quite the opposite|i beg to differ|i'm not convinced|i am not convinced|not convinced that|"
    r"(?:doesn't|does not) follow|(?:straw ?man|false (?:dichotomy|equivalence)|slippery slope)|"
    r"i'm (?:skeptical|sceptical)|agree to disagree|(?:i'm |i am )?not sure (?:that|about that|you|where you|how you|"
    r"why you|what you))\b",
    re.IGNORECASE,
)
# A challenging question: a negative interrogative ("Isn't that ...?", "Wouldn't it ...?") or a question that
# asks the other side to justify a position ("Why would ...?", "How can you ...?", "What about ...?", "So you're
# saying ...?"): rhetorical and challenge questions are disagreement cues (Abbott et al. 2011; Misra & Walker
# 2013); a question that asks for information ("How do I ...?", "Does anyone know ...?") is not one.
_JUSTIFY_QUESTION = re.compile(
    r"^(?:but |and |so |then |well,? )?(?:so what|why (?:would|should|do you|does that|is that|must)|"
    r"how (?:can|could|would) you|what makes you|how do you know|(?:so )?(?:are you|you're) (?:saying|suggesting|"
    r"claiming)|do you (?:really|honestly|seriously)|is (?:that|it|this) really|then why)\b",
    re.IGNORECASE,
)
_NEGATIVE_INTERROGATIVE = (
    r"^(?:but |and |so |then |well,? )?(?:isn't|aren't|wasn't|weren't|doesn't|don't|didn't|wouldn't|shouldn't|"
    r"couldn't|won't|can't|haven't|hasn't)\b"
)
_CHALLENGE_QUESTION = re.compile(
    _NEGATIVE_INTERROGATIVE + r"|^(?:but |and |so |then |well,? )?(?:why (?:not|is|are|can't|wouldn't|shouldn't)\b|"
    r"how (?:does|is) (?:that|this|it)\b|what about\b|what if\b)",
    re.IGNORECASE,
)
# A question that states what its asker believes: a negative interrogative ("Isn't X ...?" conveys that the asker
# takes X to hold: Ladd 1981; Romero & Han 2004) or a question asking the other side to justify itself. A reply
# answers the belief, not only the question: "Yes, but ..." turns against it, "No, ..." denies it.
_BELIEF_QUESTION = re.compile(_NEGATIVE_INTERROGATIVE + "|" + _JUSTIFY_QUESTION.pattern, re.IGNORECASE)
# Negators and denial predicates: what flips a statement's polarity (de Marneffe et al. 2008; Biber's
# negation and Hyland's "wrong/false"-type attitude markers).
_FIRST_PERSON = frozenset("i my me we our us".split())
# Irregular past tenses among the most frequent English verbs (regular ones end in "-ed").
_NARRATION = frozenset("was were did had went said saw got told found made came took gave knew thought felt".split())
_LINK_OR_CODE = re.compile(r"\S*://\S*|`[^`]*`?|\S+\.(?:com|org|net|io|xyz)\S*")
_NEGATORS = frozenset("not no never nothing nobody none neither nor without".split())
_DENIALS = frozenset("wrong false untrue incorrect mistaken myth doubt unlikely".split())


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
# own, and each 0 or 1. The word classes: deontic and epistemic modals, hedges and attitude markers (Hyland
# 2005; Biber et al. 1999), negation, person deixis, narrative past tense, and the opening connectives of
# the PDTB 2.0 (Prasad et al. 2008) that mark a conclusion, a cause or a condition (Stab & Gurevych's 2017
# forward/backward indicators). The weights and the threshold are not set by hand: bench/fit_claims.py fits
# them (L2 logistic regression; the threshold that maximises claim F1 on the training threads) and writes
# pipeline/data/offline_model.json, which is loaded here; `make crossval` scores that fit on held-out threads.
CLAIM_FEATURES: tuple[str, ...] = (
    "bias",
    "obligation",
    "evaluation",
    "copula",
    "modal",
    "hedge",
    "negation",
    "contracted_negation",  # "isn't" with no "not", "never" or "no" beside it
    "second_person",
    "comparison",
    "first_person_plural",
    "narration",
    "generalization",
    "opens_with_reference",
    "opens_with_conclusion",
    "opens_with_cause",
    "opens_with_condition",
    "stance_verb",
    "need_to",
    "example",
    "link",
    "quotation",
    "exclamation",
    "under_6_words",
    "under_9_words",  # 6 to 8
    "over_29_words",
    "only_segment",  # a one-segment post is its point
    "first_segment",  # a post's opening states it more often than what follows
    "first_sentence",
    "in_opening_post",  # an opening post spends more of its words on background than a reply does
    "in_title",  # the thread's title line
)
MODEL_FILE = "data/offline_model.json"


def load_model() -> dict[str, Any]:
    """The fitted parts of the offline extractor, from pipeline/data/offline_model.json (bench/fit_claims.py
    writes it): ``claim_weights`` (one per ``CLAIM_FEATURES``), ``claim_threshold``, ``default_parent_score`` and
    ``default_reply_score`` (the argumentative-exchange default's cuts), ``quote_reply_score`` (the
    quote-and-counter default's cut), ``sources_per_reply``, ``evidence_edges`` and ``opening_target``.

    Failure modes: a missing or unreadable file, or one whose features are not exactly ``CLAIM_FEATURES``,
    raises (``OSError``, ``ValueError``, ``KeyError``): the package is broken, and a silent default would hide
    it."""
    model: dict[str, Any] = json.loads(importlib.resources.files("pipeline").joinpath(MODEL_FILE).read_text("utf-8"))
    if set(model["claim_weights"]) != set(CLAIM_FEATURES):
        raise ValueError(f"{MODEL_FILE}: features {sorted(model['claim_weights'])} are not {sorted(CLAIM_FEATURES)}")
    return model


_MODEL = load_model()
CLAIM_WEIGHTS: dict[str, float] = {name: float(_MODEL["claim_weights"][name]) for name in CLAIM_FEATURES}
CLAIM_THRESHOLD = float(_MODEL["claim_threshold"])  # claim log-odds above which a segment is a claim
SOURCES_PER_REPLY = int(_MODEL["sources_per_reply"])  # a rebuttal's strongest claim, then its opening clauses
EVIDENCE_EDGES = bool(_MODEL["evidence_edges"])  # also the contradicting clause against the one it contradicts
OPENING_TARGET = bool(_MODEL["opening_target"])  # also the answered post's opening clause as a target
# The argumentative-exchange default (``argued_reply``): how claim-like (claim log-odds) the answered thesis and
# the reply's strongest statement must be; None turns the default off. Fitted by bench/fit_claims.py.
DEFAULT_PARENT_SCORE: float | None = _MODEL["default_parent_score"]
DEFAULT_REPLY_SCORE: float | None = _MODEL["default_reply_score"]
# The quote-and-counter default (``quote_counter``): how claim-like the answer under a quote must be.
QUOTE_REPLY_SCORE: float | None = _MODEL["quote_reply_score"]
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
    if segment.post.id == TITLE_POST_ID:
        found.append("in_title")
    elif segment.post.parent_id is None:
        found.append("in_opening_post")
    return found


def claim_score(segment: Segment, count: int) -> float:
    """Log-odds that a segment is the author's claim rather than a premise or an aside."""
    return sum(CLAIM_WEIGHTS[name] for name in claim_features(segment, count))


# A fenced code block (Markdown, as the importers keep it), to its closing fence or the end of the text.
_CODE_BLOCK = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
# A Markdown indented code block (CommonMark 4.4: lines indented four spaces or a tab, after a blank line or at
# the start) is code only when most of its lines carry a programming symbol (an assignment, braces, a shell
# prompt, a pipe, a semicolon): mail bridges and quoting clients indent prose the same way.
_INDENTED_BLOCK = re.compile(r"(?:\A|\n[ \t]*\n)((?:(?: {4}|\t)[^\n]*(?:\n|\Z))+)")
_CODE_SYMBOL = re.compile(r"[{}\[\]<>=;$#|\\]")
_ENTITY = re.compile(r"&#?\w+;")


def _code_ranges(text: str) -> list[tuple[int, int]]:
    """The spans of the post's code: fenced blocks, and indented blocks that read as code."""
    ranges = [m.span() for m in _CODE_BLOCK.finditer(text)] if "```" in text else []
    if not text.startswith(("    ", "\t")) and "\n    " not in text and "\n\t" not in text:
        return ranges
    for block in _INDENTED_BLOCK.finditer(text):
        lines = [line for line in block.group(1).split("\n") if line.strip()]
        coded = sum(bool(_CODE_SYMBOL.search(_ENTITY.sub("", line))) for line in lines)
        if lines and coded * 2 >= len(lines):
            ranges.append(block.span(1))
    return ranges


def segments(cp: ChunkPost) -> list[Segment]:
    """The post's clauses in order; quoted ones flagged; code blocks left out (commands and program output are
    nobody's claim)."""
    quoted_ranges = cp.quoted_spans()
    code_ranges = _code_ranges(cp.text)
    found: list[Segment] = []
    for number, (sentence_start, sentence_end) in enumerate(sentence_spans(cp.text)):
        for start, end in _clauses(cp.text, sentence_start, sentence_end):
            raw = cp.text[start:end]
            text = raw.strip().rstrip(",")
            if not text or any(a <= start < b for a, b in code_ranges):
                continue
            quoted = any(a <= start + (len(raw) - len(raw.lstrip())) < b for a, b in quoted_ranges)
            found.append(Segment(cp.post, text, len(found), number, quoted))
    for segment in found:
        segment.candidate = is_candidate(segment)
        segment.score = claim_score(segment, len(found))
        if segment.text.endswith("?"):
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
        and not _META.search(segment.lowered)
        and not _EDITORIAL_NOTE.fullmatch(segment.text)
    )


def _negative(segment: Segment) -> bool:
    """Whether a clause is negated or denies: its polarity, for the contradiction test."""
    tokens = segment.tokens
    return any(t in _NEGATORS or t in _DENIALS or t.endswith("n't") for t in tokens)


def _contradicted(segment: Segment, answered: list[Segment], shared: int) -> Segment | None:
    """The answered clause a statement of the reply contradicts: one that speaks of the same thing (``shared``
    content words in common) with the opposite polarity, "X is not Y" against "X is Y" (de Marneffe et al.
    2008); the one sharing most words, or None."""
    if segment.text.endswith("?") or _reports(segment):
        return None
    negative = _negative(segment)
    stems = _stance_stems(segment)
    # Most of what the clause speaks of must be in the answered clause: two long clauses share two words
    # by chance.
    needed = max(shared, -(-len(stems) // ALIGNED_SHARE))
    best, most = None, needed - 1
    for t in answered:
        common = len(stems & _stance_stems(t))
        if common > most and _negative(t) != negative and not t.text.endswith("?"):
            best, most = t, common
    return best


def _reports(segment: Segment) -> bool:
    """A first-person report of what happened to the speaker (an anecdote): it tells, it does not deny."""
    present = set(segment.tokens)
    past = not present.isdisjoint(_NARRATION) or any(len(t) > 4 and t.endswith("ed") for t in present)
    return past and not present.isdisjoint(_FIRST_PERSON)


def _stance_stems(segment: Segment) -> set[str]:
    """The clause's content-word stems without links and code, whose words say nothing about its stance."""
    text = segment.lowered
    if "://" in text or "`" in text:
        return _stems(content_words(_LINK_OR_CODE.sub(" ", text)))
    return _stems(segment.words)


def _turns(rest: str) -> bool:
    """Whether what follows an agreement or a concession turns against it: a contrast in the rest of its
    sentence ("Yes, but ..."), or at the start of the next one ("I agree. However, ...")."""
    spans = list(sentence_spans(rest))
    if not spans:
        return False
    if _CONTRAST.search(rest, spans[0][0], spans[0][1]):
        return True
    return len(spans) > 1 and bool(_CONTRAST.match(rest, spans[1][0]))


def _stems(words: set[str]) -> set[str]:
    """Content words cut to a crude stem (no plural "s", at most six letters): "games" meets "game",
    "capitalism" meets "capitalist"."""
    return {w.rstrip("s")[:6] for w in words}


def _challenged(segment: Segment, answered: list[Segment]) -> Segment | None:
    """The answered clause a question challenges: a question asking the other side to justify itself (aimed at
    the clause sharing most words with it, else the first), or a negative interrogative or "what about ...?"
    about something the answered post says (one content word in common); or None."""
    if not segment.text.endswith("?") or not answered:
        return None
    stems = _stems(segment.words)
    common, best = max(((len(stems & _stems(t.words)), -i) for i, t in enumerate(answered)), default=(0, 0))
    if _JUSTIFY_QUESTION.search(segment.lowered) or (common and _CHALLENGE_QUESTION.search(segment.lowered)):
        return answered[-best]
    return None


@dataclass(frozen=True, slots=True)
class Stance:
    """How a reply stands toward what it answers; for a contradiction or a challenge question, the clauses
    that show it (the reply's, and the answered one it turns against)."""

    kind: str
    source: Segment | None = None
    target: Segment | None = None


def reply_stance(
    reply: list[Segment], answered: list[Segment], shared: int = SHARED_WORDS_FOR_CONTRADICTION
) -> Stance | None:
    """A reply's stance toward what it answers (agrees | qualifies | rebuts), or None when its words show none.

    ``reply``: the reply's own (unquoted) segments in order; ``answered``: the segments of what it answers.
    Agreement is read from the opening sentences: an agreement followed by a concessive or contrastive
    connective rebuts (a concession), one limited by a condition qualifies. Without agreement, a rebuttal
    needs evidence: an explicit disagreement, a denying opener after a statement, a concession turned by a
    contrast, a clause contradicting an answered one, or a challenge question about it. Thanks, consolation,
    anecdotes, jokes, information questions and announcements show none of these, and get no stance."""
    if not reply:
        return None
    # A response token answers a question when the post answered asks one, unless the question states a belief.
    asks = any(
        t.text.endswith("?") and not _BELIEF_QUESTION.search(t.lowered) for t in answered if t.post is answered[0].post
    )
    opening_sentences = sorted({s.sentence for s in reply})[:OPENING_SENTENCES]
    opening = _fold(" ".join(s.text for s in reply if s.sentence in opening_sentences)).strip()
    agreement = _AGREE.search(opening) or (None if asks else _AFFIRMING_OPENER.search(opening))
    if agreement:
        rest = opening[agreement.end() :]
        if _turns(rest) or _EXPLICIT_DISAGREE.search(rest):
            return Stance("rebuts")
        return Stance("qualifies" if _CONDITION.search(rest) else "agrees")
    concession = _CONCEDE.search(opening)
    if concession and _DISCLAIMER.match(opening, concession.end()):
        concession = None
    if concession and _turns(opening[concession.end() :]):
        return Stance("rebuts")
    if (
        _explicitly_disagrees(reply)
        or (not asks and _DENYING_OPENER.search(opening))
        or (not asks and _CONTRASTING_OPENER.search(opening))
    ):
        return Stance("rebuts")
    for segment in reply:
        target = _contradicted(segment, answered, shared) or _challenged(segment, answered)
        if target is not None:
            return Stance("rebuts", segment, target)
    return None


# --- the argumentative-exchange default ---------------------------------------------------------------------
# In a debate, a reply that argues a position against a post that argues one, and shows no agreement, attacks
# it: in the annotated ChangeMyView threads of cmv-dev, 146 of 197 replies attack their parent (74%), and
# disagreement is the usual relation between argumentative turns in online debate forums (the Internet Argument
# Corpus: Walker et al. 2012; Abbott et al. 2011). So the default holds only between two argumentative turns,
# each told by general classes:
# - a position: a claim-like statement (claim log-odds at least the fitted ``DEFAULT_PARENT_SCORE`` /
#   ``DEFAULT_REPLY_SCORE``) carrying a stance marker of the claim model: an opinion or stance verb, a modal
#   of obligation or "need to", evaluative language, a hedge (Hyland 2005 stance markers; Biber et al. 1999
#   stance adverbials and modals; Stab & Gurevych 2017, claims as stance-bearing statements);
# - the reply may also argue by structure: a denial (negation), a concluding or causal opening, a counterfactual
#   modal (Stab & Gurevych's argument indicators);
# - neither turn is a question, nor a first-person report of what happened or what the speaker habitually does
#   (narration, an anecdote);
# - what is answered does not ask for help or information (information-seeking and action-directive dialogue
#   acts: Jurafsky et al. 1997, SWBD-DAMSL; Kim et al. 2010, dialogue acts of forum threads);
# - the reply is not an expressive act: thanking, apologising, condoling, congratulating, greeting or praising
#   (Searle 1976's expressives; SWBD-DAMSL's thanking, apology and appreciation acts).
# The claim model's features that mark a position: stance verbs, obligation, "need to", evaluation, hedges,
# epistemic and counterfactual modals, negation (a denial), a concluding opening, and the predications a thesis
# is made of: a copula ("X is Y"), a comparison, a generalization over people (Biber et al. 1999; Hyland 2005).
_POSITION_MARKERS = frozenset(
    {
        "stance_verb",
        "obligation",
        "need_to",
        "evaluation",
        "hedge",
        "modal",
        "negation",
        "contracted_negation",
        "opens_with_conclusion",
        "copula",
        "comparison",
        "generalization",
    }
)
# First-person narration: "I/we" with a past-tense verb ("I walked", "we went"), the anecdote's clause; or a
# report of the speaker's habit, "I/we" with a frequency adverb ("I always type ...", "we usually go ..."; Biber
# et al. 1999's adverbials of frequency, habitual aspect), unless the verb is one of stance ("I always think").
_NARRATES = re.compile(
    r"\b(?:i|we)(?: \w+ly| also| just| never| then)? (?:was|were|did|had|went|said|saw|got|told|found|made|came|"
    r"took|gave|knew|felt|tried|lived|used|bought|ran|met|left|kept|lost|spent|wrote|read|heard|\w+ed)\b"
    r"|\b(?:i|we) (?:always|usually|often|normally|sometimes) (?!think|believe|feel|find)\w+"
)
_EXPRESSIVE = re.compile(
    r"^(?:thanks|thank you|thx|many thanks|sorry|i'm sorry|i am sorry|so sorry|my condolences|condolences|"
    r"congrats|congratulations|welcome|hi|hello|hey|great|awesome|nice|cool|wow|amazing|beautiful|brilliant|"
    r"lovely|love|well done|good job|good luck|bravo|lol|haha|hah|rip)\b"
    r"|\b(?:thank you|thanks (?:a lot|so much|for)|sorry for your loss|my condolences|(?:i'm|i am) so sorry|"
    r"hugs|congratulations)\b"
    # a shared experience ("same here", "I have the same issue"): an anecdote that sides with the parent
    r"|\b(?:same here|me too|same (?:issue|problem|thing) here|i (?:have|had|got|get|see|saw|observed|am having) "
    r"(?:\w+ )?the same)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"\b(?:any (?:idea|ideas|help|suggestions?|advice|pointers)|can (?:someone|anyone|somebody)|could (?:someone|"
    r"anyone|somebody|you)|does (?:anyone|anybody)|has (?:anyone|anybody)|how (?:do|can|should) i|please help|"
    r"help (?:me|needed|please)|i need help|what (?:do|should) i do|is there a way|i'm trying to|i am trying to|"
    r"i'm looking for|i am looking for)\b",
    re.IGNORECASE,
)


def _takes_position(segment: Segment, count: int, minimum: float) -> bool:
    """Whether a segment states a position: claim-like enough, a stance or argument marker, no question, no
    first-person narration."""
    if segment.text.endswith("?") or segment.score < minimum or _NARRATES.search(segment.lowered):
        return False
    return not _POSITION_MARKERS.isdisjoint(claim_features(segment, count))


def _asks_for_help(answered: list[Segment]) -> bool:
    return bool(_REQUEST.search(" ".join(s.text for s in answered)))


def _explicitly_disagrees(segments_: list[Segment]) -> bool:
    return bool(_EXPLICIT_DISAGREE.search(_fold(" ".join(s.text for s in segments_))))


def _opens_with_other_act(opening: str) -> bool:
    """Whether a turn's (folded) opening asks, thanks, praises, condoles or tells a story instead of arguing."""
    return opening.endswith("?") or bool(_EXPRESSIVE.search(opening)) or bool(_NARRATES.search(opening.lower()))


def _strongest_statement(segments_: list[Segment], claims_only: bool = False) -> Segment | None:
    """The most claim-like segment that is not a question (and, with ``claims_only``, is a claim)."""
    statements = [s for s in segments_ if not s.text.endswith("?") and (s.kind == "claim" or not claims_only)]
    return max(statements, key=lambda s: (s.score, -s.index), default=None)


def argued_reply(
    reply: list[Segment],
    opening: list[Segment],
    thesis: Segment,
    answered: list[Segment],
    parent_rebuts: bool = False,
) -> Segment | None:
    """The reply's statement that argues against ``thesis`` by default (see above), or None.

    ``reply``: the reply's own candidate segments; ``opening``: its first sentence's unquoted segments (what
    the reply does first: thank, ask, tell); ``thesis``: the answered position (the parent's strongest claim,
    or the thread title for a reply to the opening post); ``answered``: the parent post's segments;
    ``parent_rebuts``: the parent itself rebuts what it answers, so it takes a position whatever its thesis
    scores (an answer to a rebuttal goes on with the argument: Walker et al. 2012's disagreement chains)."""
    if DEFAULT_PARENT_SCORE is None or DEFAULT_REPLY_SCORE is None or not reply or not opening:
        return None
    if not parent_rebuts and not _takes_position(thesis, 1, DEFAULT_PARENT_SCORE):
        return None
    if any(s.text.endswith("?") for s in answered[-1:]) or _asks_for_help(answered):
        return None
    if _opens_with_other_act(_fold(" ".join(s.text for s in opening))):
        return None
    best = _strongest_statement(reply)
    if best is None or not _takes_position(best, len(reply), DEFAULT_REPLY_SCORE):
        return None
    return best


def _in_question(segment: Segment, answered: list[Segment]) -> bool:
    """Whether a segment is (a clause of) a question: its sentence ends with "?" ("Would it run daily, but only
    until midnight?" asks in both clauses)."""
    return segment.text.endswith("?") or any(
        t.post is segment.post and t.sentence == segment.sentence and t.text.endswith("?") for t in answered
    )


def quote_counter(answer: list[Segment], quoted: Segment, answered: list[Segment]) -> Segment | None:
    """The statement of a quote-reply's answer that counters the quoted words by default, or None.

    Quoting a statement and answering it point by point is how a forum reply disputes it (the "quote and
    counter" of the issue; Stab & Gurevych's 2017 rebuttals answer a named claim), so the answer needs no
    disagreement marker: its strongest statement must be a claim taking a position (as in ``argued_reply``) at
    least as claim-like as the fitted ``QUOTE_REPLY_SCORE``. ``answer``: the reply's candidate segments under the
    quote; ``quoted``: the parent segment the quote repeats; ``answered``: the parent post's segments. Not a
    counter: an answer to a quoted question (or a clause of one) or to a post asking for help or information,
    and an answer that opens by asking, thanking, praising or telling a story."""
    if QUOTE_REPLY_SCORE is None or not answer or _in_question(quoted, answered):
        return None
    if _asks_for_help(answered):
        return None
    if _opens_with_other_act(_fold(" ".join(s.text for s in answer if s.sentence == answer[0].sentence))):
        return None
    best = _strongest_statement(answer, claims_only=True)
    if best is None or not _takes_position(best, len(answer), QUOTE_REPLY_SCORE):
        return None
    return best


def stance(reply: str, answered: str) -> str | None:
    """The kind of ``reply_stance`` of a reply's text toward the text it answers (each read as one post)."""
    found = reply_stance(_text_segments(reply), _text_segments(answered))
    return found.kind if found else None


def _text_segments(text: str) -> list[Segment]:
    return segments(ChunkPost(Post("", None, None, text), text))


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
            # No model, so no paraphrase: an empty text means "the quote says it" (ground fills the quote in).
            self.claims.append(
                {
                    "id": local,
                    "post_id": segment.post.id,
                    "kind": segment.kind,
                    "quote": segment.text,
                    "text": "",
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


def _sources(strongest: Segment | None, answer: list[Segment]) -> list[Segment]:
    """The clauses a rebutting answer speaks with: its strongest claim, then its clauses in order from the
    opening, ``SOURCES_PER_REPLY`` in all. A reply answers first and argues after (its opening clauses, claim or
    premise, are where the annotated attacks start more often than its later claims)."""
    return _unique([strongest, *answer])[:SOURCES_PER_REPLY]


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


def _quote_passages(quoting: list[Segment], replying: list[Segment]) -> list[list[Segment]]:
    """The quoted segments grouped into passages: a passage runs until the reply's own words break it."""
    passages: list[list[Segment]] = []
    for quote in quoting:
        if passages and not any(passages[-1][-1].index < s.index < quote.index for s in replying):
            passages[-1].append(quote)
        else:
            passages.append([quote])
    return passages


def _link_quote_replies(
    payload: _Payload, every: list[Segment], targets: list[Segment], answered: list[Segment], by_default: bool
) -> tuple[bool, bool]:
    """Each quoted passage names what it answers: the answered segments its lines repeat, of which the most
    claim-like is the target. The reply's words up to the next passage answer it, with the stance they show
    toward it, or by default (``quote_counter``) as a counter; none: no relation. The sources are the answer's
    strongest claim and its opening clauses (``_sources``). ``every``: the reply's segments; ``targets``: the
    segments of what it answers; ``answered``: the parent's; ``by_default``: whether the default applies (not
    in plain text, where only an explicit disagreement says a post turns against another). Returns (whether
    any passage named a segment answered, whether any rebuts)."""
    quoting = [s for s in every if s.quoted]
    unquoted = [s for s in every if not s.quoted]
    passages = _quote_passages(quoting, unquoted)
    linked = rebuts = False
    for number, passage in enumerate(passages):
        repeated: list[Segment | None] = []
        for quote in passage:
            best = max(targets, key=lambda t: (similarity(quote.words, t.words), -t.index))
            repeated.append(best if similarity(quote.words, best.words) >= QUOTE_MATCH_MIN_SIMILARITY else None)
        quoted = _thesis(_unique(repeated))
        if quoted is None:
            continue
        linked = True
        end = passages[number + 1][0].index if number + 1 < len(passages) else len(every)
        words = [s for s in unquoted if passage[-1].index < s.index < end]
        answer = [s for s in words if s.candidate]
        if not answer:
            continue
        # The quote already says what is answered: one shared word ties a contradicting clause to it.
        found = reply_stance(words, _unique(repeated), shared=1)
        countering = quote_counter(answer, quoted, answered) if found is None and by_default else None
        kind = "rebuts" if countering is not None else found.kind if found is not None else None
        if kind == "rebuts" and not by_default and not _explicitly_disagrees(words):
            kind = None  # plain text: only an explicit disagreement says a post turns against another
        if kind is None:
            continue
        rebuts = rebuts or kind == "rebuts"
        for source in _sources(_strongest_statement(answer, claims_only=True), answer):
            payload.relate(payload.claim(source), payload.claim(quoted), kind)
    return linked, rebuts


def extract_payload(chunk: Chunk) -> dict[str, Any]:
    payload = _Payload()
    shown: dict[str, ChunkPost] = {cp.post.id: cp for cp in chunk.context}
    shown.update({cp.post.id: cp for cp in chunk.posts})
    every = {pid: segments(cp) for pid, cp in shown.items()}
    candidates = {pid: [s for s in found if s.candidate] for pid, found in every.items()}
    has_reply_structure = any(cp.post.parent_id for cp in shown.values())
    earlier: list[ChunkPost] = []
    rebutting: set[str] = set()  # the posts of this chunk that rebut what they answer
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
        if cp.post.author is not None and all(p.post.author == cp.post.author for p in answered):
            continue  # an author going on, or answering a reply to themselves: no stance toward their own words
        parent_own = candidates[answered[0].post.id]
        linked, quote_rebuts = _link_quote_replies(
            payload, every[cp.post.id], targets, parent_own, by_default=has_reply_structure
        )
        if quote_rebuts:
            rebutting.add(cp.post.id)
        if linked:
            continue
        unquoted = [s for s in every[cp.post.id] if not s.quoted]
        found = reply_stance(unquoted, targets)
        # What the reply answers: the parent's thesis, or the thread title for a reply to the opening post.
        title = next((s for s in targets if s.post.id == TITLE_POST_ID), None)
        thesis = title or _thesis(parent_own)
        if found is None and has_reply_structure:
            opening = [s for s in unquoted if s.sentence == unquoted[0].sentence] if unquoted else []
            parent_rebuts = answered[0].post.id in rebutting
            if thesis is not None and argued_reply(own, opening, thesis, parent_own, parent_rebuts) is not None:
                found = Stance("rebuts")
        if found is None:
            continue
        kind = found.kind
        if kind == "rebuts" and not has_reply_structure:
            # Consecutive plain-text posts may be one author going on: only an explicit marker says a post
            # turns against the ones before it.
            if not _explicitly_disagrees(unquoted):
                continue
        # The reply's strongest claim and its opening clauses answer the parent's thesis (the thread title, for
        # a reply to the opening post); in plain text, where the post answered is a guess, the earlier
        # segment closest to its words.
        strongest = max(claims or own, key=lambda s: (s.score, -s.index))
        sources = _sources(strongest, own)
        answered_clauses: list[Segment]
        if has_reply_structure:
            target = thesis or targets[0]
            # With ``opening_target``, also the answered post's opening clause (a reply to the opening post:
            # the title, which is already the target): a reply often answers what its parent says first.
            opening_clause = title or (parent_own or targets)[0]
            answered_clauses = _unique([target, opening_clause] if OPENING_TARGET else [target])
        else:
            reply_words = content_words(" ".join(s.text for s in own))
            target = max(targets, key=lambda t: (similarity(reply_words, t.words), t.score))
            answered_clauses = [target]
        pairs = [(source, answered_clause) for source in sources for answered_clause in answered_clauses]
        if EVIDENCE_EDGES and found.source is not None and found.target is not None:
            # The clause that contradicts or challenges, against the thesis and the clause it turns against.
            if found.source.candidate:
                pairs.append((found.source, target))
                if found.target.candidate:
                    pairs.append((found.source, found.target))
        for source, answered_clause in pairs:
            payload.relate(payload.claim(source), payload.claim(answered_clause), kind)
        if kind == "rebuts":
            rebutting.add(cp.post.id)
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
    languages = frozenset({"en"})  # its cues (discourse markers, hedges, stance words) are English words
    fingerprint = hashlib.sha256(f"offline:{RULES_VERSION}".encode()).hexdigest()

    async def extract(self, chunk: Chunk) -> ChunkExtraction:
        return ChunkExtraction(chunk.id, extract_payload(chunk), Usage())

    async def summarize(self, title: str, claims: list[Claim], relations: list[Relation]) -> tuple[str, Usage]:
        return extractive_summary(title, claims, relations), Usage()
