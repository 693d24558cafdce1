"""DiscordChatExporter JSON (``DiscordChatExporter.Cli export -f Json``) → one thread per exported channel.

Input: one parsed export: ``{guild: {id, name}, channel: {id, name, category, topic}, dateRange, messages: [{id,
type, timestamp, content, author: {id, name, nickname, isBot}, reference: {messageId, channelId, guildId},
attachments, embeds, mentions}], messageCount}``. A thread or forum post exported on its own is a channel too.

Output: a thread with id ``discord-<channel id>``, title ``<guild name> / #<channel name>``, source the channel's
discord.com link (built from the guild and channel ids). Posts in the export's order, ids the message ids, text the
message content (Discord Markdown, as written). A message with a ``reference.messageId`` (type ``Reply``; older
exporter versions wrote replies as ``Default`` with a reference) replies to that message; a reference to another
channel or to a message not in the export stays, and the loader drops it with its note. Other messages have no
parent: a channel is a flat conversation. Author: the nickname, else the name; Discord's "Deleted User" is unknown.

Left out, each kind with one note per file: system messages (every type but ``Default`` and ``Reply``: joins, pins,
thread creations, calls, renames...), bot messages (``author.isBot``), messages without text (attachments, stickers
or embeds only), and the repeats of a message id given more than once (the first is kept; the channel is never
dropped for it). Failure modes: a ``messages`` entry that is not an object is left out with a note; nothing raises.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..models import Post
from .base import Doc, DraftThread, Format, Imported, Note, id_of, text_of

_TEXT_TYPES = {"Default", "Reply"}
# Discord renames a deleted account "Deleted User" (newer ones get a hex suffix): nobody we can name.
_DELETED_USER = re.compile(r"^Deleted User(?: [0-9a-f]{6,})?$")


def detect(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("guild"), dict)
        and isinstance(value.get("channel"), dict)
        and isinstance(value.get("messages"), list)
    )


def _author(author: Any) -> str | None:
    if not isinstance(author, dict):
        return None
    for key in ("nickname", "name"):
        name = author.get(key)
        if isinstance(name, str) and name.strip():
            return None if _DELETED_USER.match(name.strip()) else name
    return None


def _shown(items: list[str]) -> str:
    """The first three items, then "..." when there are more."""
    return ", ".join(items[:3]) + (" ..." if len(items) > 3 else "")


@dataclass
class _Read:
    """A channel's messages as read: the posts kept, and what was left out of them, per kind."""

    posts: list[Post] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # ids of the messages kept
    repeated: list[str] = field(default_factory=list)
    system: Counter[str] = field(default_factory=Counter)
    first_system: str | None = None
    bots: list[str] = field(default_factory=list)
    bot_names: set[str] = field(default_factory=set)
    empty: list[str] = field(default_factory=list)
    not_messages: list[int] = field(default_factory=list)
    left_out: set[str] = field(default_factory=set)  # ids of messages left out, so a reply to one is said as such


def _read_message(index: int, message: Any, read: _Read) -> None:
    """Keep one ``messages`` entry as a post, or count it under the kind it is left out as."""
    if not isinstance(message, dict):
        read.not_messages.append(index)
        return
    message_id = id_of(message.get("id")) or ""
    kind = message.get("type")
    kind = kind if isinstance(kind, str) and kind else "Default"
    if kind not in _TEXT_TYPES:
        read.system[kind] += 1
        read.first_system = read.first_system or message_id
        read.left_out.add(message_id)
        return
    author = message.get("author")
    if isinstance(author, dict) and author.get("isBot") is True:
        read.bots.append(message_id)
        read.bot_names.add(_author(author) or "?")
        read.left_out.add(message_id)
        return
    text = text_of(message.get("content")).strip()
    if not text:
        read.empty.append(message_id)
        read.left_out.add(message_id)
        return
    if message_id and message_id in read.seen:
        read.repeated.append(message_id)
        return
    read.seen.add(message_id)
    reference = message.get("reference")
    parent = id_of(reference.get("messageId")) if isinstance(reference, dict) else None
    read.posts.append(Post(message_id, _author(author), parent, text))


def _unlink_orphans(read: _Read) -> list[Post]:
    """Drop the reply links to messages left out here (the loader would call them missing); the posts unlinked."""
    read.left_out -= read.seen  # a repeated id whose first message was kept still has a post to answer
    orphans = [post for post in read.posts if post.parent_id is not None and post.parent_id in read.left_out]
    for post in orphans:
        post.parent_id = None
    return orphans


def _notes(read: _Read, orphans: list[Post]) -> list[str]:
    """One note per kind of message left out or reply link dropped."""
    notes: list[str] = []
    if read.system:
        kinds = ", ".join(f"{name} ×{count}" for name, count in read.system.most_common())
        notes.append(f"{sum(read.system.values())} system message(s) left out ({kinds}; first: {read.first_system!r})")
    if read.bots:
        notes.append(
            f"{len(read.bots)} bot message(s) left out ({_shown(sorted(read.bot_names))}; first: {read.bots[0]!r}): "
            "not part of the debate"
        )
    if read.empty:
        notes.append(
            f"{len(read.empty)} message(s) without text left out (attachments, stickers or embeds only; first: "
            f"{read.empty[0]!r})"
        )
    if read.repeated:
        distinct = [repr(i) for i in dict.fromkeys(read.repeated)]
        notes.append(
            f"{len(read.repeated)} repeat(s) of message id(s) {_shown(distinct)} left out: the first message with each "
            "id is kept"
        )
    if orphans:
        notes.append(
            f"{len(orphans)} repl(ies) answer a message left out above (first: {orphans[0].id!r} → a message "
            "without text, by a bot or of the system): reply links dropped"
        )
    if read.not_messages:
        notes.append(
            f"{len(read.not_messages)} entr(ies) of 'messages' are not messages (first: index {read.not_messages[0]})"
        )
    return notes


def _title(guild: dict[str, Any], channel: dict[str, Any]) -> str | None:
    """``<guild> / #<channel>``, or what of it the export names."""
    guild_name = text_of(guild.get("name")).strip()
    channel_name = text_of(channel.get("name")).strip()
    title = f"#{channel_name}" if channel_name else None
    if title and guild_name:
        title = f"{guild_name} / {title}"
    return title


def _source(guild_id: str | None, channel_id: str | None) -> str | None:
    """The channel's discord.com link (``@me`` for a direct message, whose guild id is missing or 0)."""
    if not channel_id:
        return None
    return f"https://discord.com/channels/{guild_id if guild_id not in (None, '0') else '@me'}/{channel_id}"


def _channel(doc: Doc, found: Imported) -> None:
    export: dict[str, Any] = doc.value
    guild, channel = export["guild"], export["channel"]
    channel_id = id_of(channel.get("id"))
    guild_id = id_of(guild.get("id"))
    read = _Read()
    for index, message in enumerate(export["messages"]):
        _read_message(index, message, read)
    notes = _notes(read, _unlink_orphans(read))
    thread_id = f"discord-{channel_id}" if channel_id else f"discord-{Path(doc.path).stem}"
    found.notes += [Note(doc.where, reason, thread_id) for reason in notes]
    if not read.posts:
        found.notes.append(Note(doc.where, "no message with text from a person: no thread", thread_id))
        return
    # "Guild / #channel" names the place, not anyone's thesis: no title post.
    found.threads.append(
        DraftThread(
            id=thread_id,
            title=_title(guild, channel),
            source=_source(guild_id, channel_id),
            posts=read.posts,
            where=doc.where,
            title_is_label=True,
        )
    )


def parse(docs: list[Doc]) -> Imported:
    found = Imported()
    for doc in docs:
        _channel(doc, found)
    return found


FORMATS: tuple[Format, ...] = (
    Format(
        name="discord",
        title="Discord channel: DiscordChatExporter JSON",
        obtain=(
            "`DiscordChatExporter.Cli export -t TOKEN -c CHANNEL_ID -f Json` (or exportguild / the GUI with the "
            "JSON format); one file per channel or thread"
        ),
        kept=(
            "each channel a thread of its messages in order; nickname (else name) as author; replies link to the "
            "message they reference; system, bot and text-less messages left out; a repeated id kept once"
        ),
        detect_json=detect,
        parse_json=parse,
    ),
)
