"""Chunk: normalized thread → chunks that fit the model's context, each with its rendered prompt.

Input: a ``Thread`` (duplicates marked), a ``Tokenizer`` and ``max_tokens``, the budget for the whole
prompt as sent (system prompt + user prompt). Output: ``Chunk``s with deterministic ids c001, c002...
Posts are packed in reading order and never split unless one alone exceeds the budget; then it is
split at sentence boundaries (at word boundaries for a single overlong sentence). When posts reply to
posts outside the chunk, those parents ride along as read-only ``<context>``, by their opening
sentences, within ``CONTEXT_SHARE`` of the budget and ``CONTEXT_OF_OWN`` of the chunk's own tokens.
Failure modes: ``ConfigError`` when the budget cannot hold the fixed prompt.
"""

from __future__ import annotations

import re

from .errors import ConfigError
from .models import Chunk, ChunkPost, Post, Thread
from .resources import prompt_text, render_prompt
from .text import sentence_spans
from .tokenizer import MESSAGE_TOKENS, Tokenizer

CONTEXT_SHARE = 0.2  # of the post budget, reserved for parents shown as context ...
CONTEXT_OF_OWN = 0.25  # ... and at most this share of the chunk's own post tokens, so a prompt stays lean
MAX_PROMPT_OVERHEAD = 0.3  # prompt beyond the system prompt ≤ (1 + this) × the chunk's own post tokens
CONTEXT_EXCERPT_TOKENS = 64  # a parent is shown by its opening sentence (tags included), which usually states its point
MESSAGE_OVERHEAD_TOKENS = 2 * MESSAGE_TOKENS  # an extraction request is two messages: system and user
PART_ATTRIBUTE_TOKENS = 8  # a split post's part="i/n" attribute, counted apart from its tags


def post_element(cp: ChunkPost) -> str:
    attrs = [f'id="{_attr(cp.post.id)}"']
    if cp.post.author:
        attrs.append(f'author="{_attr(cp.post.author)}"')
    if cp.post.parent_id:
        attrs.append(f'reply_to="{_attr(cp.post.parent_id)}"')
    if cp.part:
        attrs.append(f'part="{cp.part[0]}/{cp.part[1]}"')
    if cp.excerpt:
        attrs.append('excerpt="opening"')
    # Text the post quotes from another post is marked, so the model treats it as what the reply answers.
    pieces: list[str] = []
    cursor = 0
    for start, end in cp.quoted_spans():
        pieces += [cp.text[cursor:start], "<quoted>", cp.text[start:end], "</quoted>"]
        cursor = end
    pieces.append(cp.text[cursor:])
    # A post cannot close its own element early (data, not markup); quotes are matched on the post text.
    body = "".join(pieces).replace("</post>", "<\\/post>")
    return f"<post {' '.join(attrs)}>{body}</post>"


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


def render_user_prompt(
    title: str, posts: list[ChunkPost], context: list[ChunkPost], language: str | None = None
) -> str:
    """The user message of an extraction request; ``language`` (ISO 639-1), when known, is what the model is
    asked to write paraphrases in (the thread's own, or --language): part of the prompt, so of the cache key."""
    context_block = (
        render_prompt("extract_context", posts="\n".join(post_element(cp) for cp in context)) if context else ""
    )
    return render_prompt(
        "extract_user",
        language=render_prompt("extract_language", language=language) if language else "",
        title=title,
        context=context_block,
        posts="\n".join(post_element(cp) for cp in posts),
    )


def _context_frame_tokens(tokenizer: Tokenizer) -> int:
    return tokenizer.count(render_prompt("extract_context", posts=""))


_system_tokens: dict[str, int] = {}  # by tokenizer name: the system prompt is the same for every chunk


def _system_prompt_tokens(tokenizer: Tokenizer) -> int:
    if tokenizer.name not in _system_tokens:
        _system_tokens[tokenizer.name] = tokenizer.count(prompt_text("extract_system"))
    return _system_tokens[tokenizer.name]


def prompt_tokens_of(tokenizer: Tokenizer, user_prompt: str) -> int:
    """Tokens of the whole extraction request: system prompt, this user prompt and the chat framing."""
    return _system_prompt_tokens(tokenizer) + tokenizer.count(user_prompt) + MESSAGE_OVERHEAD_TOKENS


# Any two-letter code: the language line is as long for every language, so a budget check holds for all.
ANY_LANGUAGE = "xx"


def fixed_prompt_tokens(tokenizer: Tokenizer, title: str, language: str | None = ANY_LANGUAGE) -> int:
    return prompt_tokens_of(tokenizer, render_user_prompt(title, [], [], language))


def _split_words(text: str, budget: int, tokenizer: Tokenizer) -> list[str]:
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for word in re.findall(r"\S+\s*", text):
        cost = tokenizer.count(word)
        if current and used + cost > budget:
            pieces.append("".join(current).rstrip())
            current, used = [], 0
        current.append(word)
        used += cost
    if current:
        pieces.append("".join(current).rstrip())
    return pieces


def split_post(post: Post, budget: int, tokenizer: Tokenizer) -> list[str]:
    """A post longer than ``budget`` tokens → consecutive parts of at most ``budget`` tokens each."""
    parts: list[str] = []
    start: int | None = None
    end = 0
    used = 0
    for s, e in sentence_spans(post.text):
        cost = tokenizer.count(post.text[s:e]) + 1
        if cost > budget:
            if start is not None:
                parts.append(post.text[start:end])
                start, used = None, 0
            parts.extend(_split_words(post.text[s:e], budget, tokenizer))
            continue
        if start is not None and used + cost > budget:
            parts.append(post.text[start:end])
            start, used = None, 0
        if start is None:
            start = s
        end = e
        used += cost
    if start is not None:
        parts.append(post.text[start:end])
    return [part for part in parts if part.strip()]


MIN_POST_BUDGET = 64


def check_budget(titles: list[str], tokenizer: Tokenizer, max_tokens: int) -> None:
    """Raise ConfigError, before anything runs, when the fixed prompt leaves too little room for posts."""
    fixed = max((fixed_prompt_tokens(tokenizer, title) for title in titles), default=0)
    if max_tokens - fixed < MIN_POST_BUDGET:
        raise ConfigError(
            f"--max-chunk-tokens {max_tokens} leaves {max_tokens - fixed} tokens for posts after the "
            f"{fixed}-token prompt: raise it (at least {fixed + MIN_POST_BUDGET})"
        )


def excerpt(text: str, budget: int, tokenizer: Tokenizer) -> str:
    """The text's first sentences within ``budget`` tokens (its first words, if one sentence is longer)."""
    end = 0
    used = 0
    for start, stop in sentence_spans(text):
        cost = tokenizer.count(text[start:stop]) + 1
        if used + cost > budget:
            break
        end, used = stop, used + cost
    if end == 0:
        words = _split_words(text, budget, tokenizer)
        return words[0] if words else ""
    return text[:end]


def _context_for(group: list[ChunkPost], by_id: dict[str, Post], tokenizer: Tokenizer, room: int) -> list[ChunkPost]:
    """Parents of the group's posts that are not in it: read-only context, as excerpts within ``room``."""
    inside = {cp.post.id for cp in group}
    context: list[ChunkPost] = []
    for cp in group:
        parent = by_id.get(cp.post.parent_id or "")
        if parent is None or parent.id in inside or any(c.post.id == parent.id for c in context):
            continue
        budget = min(room, CONTEXT_EXCERPT_TOKENS) - 24  # the element's tags
        if budget < 16:
            break
        text = excerpt(parent.text, budget, tokenizer)
        if not text.strip():
            continue
        shown = ChunkPost(parent, text, excerpt=text != parent.text)
        cost = tokenizer.count(post_element(shown)) + 1
        if cost <= room:
            context.append(shown)
            room -= cost
    return context


def _whole_thread_chunk(
    thread: Thread, title: str, posts: list[Post], tokenizer: Tokenizer, max_tokens: int, language: str | None
) -> Chunk | None:
    """The thread as one chunk when it fits one prompt, which most threads do: one count of the prompt
    instead of one per post, and no room held back for context that a single chunk never needs."""
    group = [ChunkPost(post, post.text) for post in posts]
    user_prompt = render_user_prompt(title, group, [], language)
    # Prose runs about four characters a token, so a prompt of more than eight per token of budget is not
    # worth counting: it is over. A wrong guess costs nothing but the general path, which is always right.
    if _system_prompt_tokens(tokenizer) + len(user_prompt) // 8 + MESSAGE_OVERHEAD_TOKENS > max_tokens:
        return None
    prompt_tokens = prompt_tokens_of(tokenizer, user_prompt)
    if prompt_tokens > max_tokens:
        return None
    return Chunk("c001", thread.id, title, group, [], user_prompt, prompt_tokens)


def chunk_thread(thread: Thread, tokenizer: Tokenizer, max_tokens: int, language: str | None = None) -> list[Chunk]:
    title = thread.title or thread.id
    check_budget([title], tokenizer, max_tokens)
    posts = thread.unique_posts
    whole = _whole_thread_chunk(thread, title, posts, tokenizer, max_tokens, language)
    if whole is not None:
        return [whole]
    fixed = fixed_prompt_tokens(tokenizer, title, language)
    budget = max_tokens - fixed
    has_replies = any(p.parent_id for p in posts)
    context_budget = int(budget * CONTEXT_SHARE) if has_replies else 0
    post_budget = budget - context_budget

    # (shown post, tokens as an element): text and tags are counted apart, a hair above the element's own
    # count, so the budget holds without rendering every element twice.
    units: list[tuple[ChunkPost, int]] = []
    for post in posts:
        text_tokens = tokenizer.count(post.text)
        tags = tokenizer.count(post_element(ChunkPost(post, ""))) + 1
        if text_tokens + tags <= post_budget:
            units.append((ChunkPost(post, post.text), text_tokens + tags))
            continue
        parts = split_post(post, post_budget - tags - PART_ATTRIBUTE_TOKENS, tokenizer)
        for index, part in enumerate(parts, 1):
            cp = ChunkPost(post, part, (index, len(parts)))
            part_tokens = tokenizer.count(part)
            units.append((cp, part_tokens + tags + PART_ATTRIBUTE_TOKENS))

    groups: list[list[tuple[ChunkPost, int]]] = []
    current: list[tuple[ChunkPost, int]] = []
    used = 0
    for unit in units:
        if current and used + unit[1] > post_budget:
            groups.append(current)
            current, used = [], 0
        current.append(unit)
        used += unit[1]
    if current:
        groups.append(current)
    frame = fixed - _system_prompt_tokens(tokenizer) + _context_frame_tokens(tokenizer)

    by_id = {p.id: p for p in posts}
    chunks: list[Chunk] = []
    for number, members in enumerate(groups, 1):
        group = [cp for cp, _cost in members]
        own = sum(cost for _cp, cost in members)
        # Bounded by the chunk's own posts as sent (tags included): bounded by their text alone, a chunk of
        # short replies, whose tags already pass the bound, got no context and lost every cross-chunk rebuttal.
        room = min(
            context_budget + post_budget - own,
            int(own * CONTEXT_OF_OWN),
            int(own * (1 + MAX_PROMPT_OVERHEAD)) - own - frame,  # the whole prompt stays lean
        )
        context = _context_for(group, by_id, tokenizer, room)
        user_prompt = render_user_prompt(title, group, context, language)
        prompt_tokens = prompt_tokens_of(tokenizer, user_prompt)
        while context and prompt_tokens > max_tokens:
            context.pop()
            user_prompt = render_user_prompt(title, group, context, language)
            prompt_tokens = prompt_tokens_of(tokenizer, user_prompt)
        chunks.append(Chunk(f"c{number:03d}", thread.id, title, group, context, user_prompt, prompt_tokens))
    return chunks
