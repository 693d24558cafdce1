"""Importers: one module per platform, each a pure function from parsed input to threads (see base.py).

``FORMATS`` is the detection order: the first format whose detector accepts an input reads it, so the
more specific shapes come first and plain text last. ``threadbrief formats`` and the README's "Inputs"
table are this list.
"""

from __future__ import annotations

from ..errors import ConfigError
from . import discord, discourse, forummagnum, github, hackernews, mail, reddit, slack, tabular
from .base import Format
from .native import PLAIN_TEXT, THREAD_JSON

FORMATS: tuple[Format, ...] = (
    THREAD_JSON,
    *reddit.FORMATS,
    *hackernews.FORMATS,
    *discourse.FORMATS,
    *forummagnum.FORMATS,
    *github.FORMATS,
    *discord.FORMATS,
    *slack.FORMATS,
    *mail.FORMATS,
    *tabular.FORMATS,
    PLAIN_TEXT,
)


def format_names() -> list[str]:
    return [f.name for f in FORMATS]


def format_named(name: str) -> Format:
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise ConfigError(f"unknown format {name!r}: use one of {', '.join(format_names())} (see `threadbrief formats`)")
