"""Slack workspace exports: the ``.zip`` an admin downloads, or the folder it unzips to.

Input: the export as ``Members`` (member name → bytes, relative to the export's root): ``users.json``,
``channels.json`` (and ``groups.json``, ``dms.json``, ``mpims.json`` when present) and one folder per
conversation holding one ``YYYY-MM-DD.json`` per day, each an array of messages.

Output: one thread per conversation (id ``slack-<folder>``, title ``#<channel>``); its posts are the
messages in time order across the day files, the post id is the message's ``ts``, a threaded reply
(``thread_ts`` different from its ``ts``) replies to the message whose ``ts`` is that ``thread_ts``, other
messages have no parent. Authors are display names from ``users.json`` (else the message's
``user_profile``, else the user id). Text is Slack's mrkdwn made plain: ``<@U…>`` → ``@name``,
``<#C…|general>`` → ``#general``, ``<https://x|label>`` → ``label``, ``<https://x>`` → the URL, then
``&lt; &gt; &amp;`` decoded, so ``&gt;`` quote lines become ``>`` quote lines.

Left out, with one note per conversation: bot messages, join/leave/topic/purpose/rename/pin and the
other ``channel_*`` / ``group_*`` system messages, messages with no text. A conversation folder not listed
in the channel lists is still read (noted). Failure modes: a day file that is not valid JSON (or not an
array) is an ``InputError`` for that member and the rest of the conversation is kept; an unreadable
``users.json`` is an ``InputError`` and authors fall back to the messages' profiles and user ids.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..models import Post
from .base import DraftThread, Format, Imported, Members, Note, id_of, loads_repaired, text_of
from .native import decode

_USERS = "users.json"
# Conversation lists, with how a conversation's folder is named in the export: by name, or (DMs) by id.
_LISTS: tuple[tuple[str, str], ...] = (
    ("channels.json", "name"),
    ("groups.json", "name"),
    ("mpims.json", "name"),
    ("dms.json", "id"),
)
_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")
# System messages: what Slack itself posts about the conversation, not what a member said.
_SYSTEM_SUBTYPES = frozenset(
    {
        "bot_add",
        "bot_remove",
        "bot_enable",
        "bot_disable",
        "pinned_item",
        "unpinned_item",
        "reminder_add",
        "reminder_delete",
        "tombstone",
        "message_changed",
        "message_deleted",
        "message_replied",
        "sh_room_created",
        "sh_room_shared",
        "huddle_thread",
        "joiner_notification",
        "ekm_access_denied",
    }
)
_SYSTEM_PREFIXES = ("channel_", "group_")
_ANGLE = re.compile(r"<([^<>\n]*)>")
_BLOCK_QUOTE = re.compile(r"^(\s*)(?:&gt;){3}\s?", re.MULTILINE)
_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&amp;", "&"))  # &amp; last: "&amp;lt;" means the text "&lt;"
_SHOWN = 80


def detect_members(top: Members) -> bool:
    """An export's root holds users.json, a conversation list and at least one conversation folder."""
    names = set(top)
    return _USERS in names and any(name in names for name, _ in _LISTS) and any(name.endswith("/") for name in names)


@dataclass
class _Conversation:
    folder: str
    title: str
    listed: bool
    days: list[str] = field(default_factory=list)


@dataclass
class _LeftOut:
    """What one conversation left out, counted so that a big channel gets one note, not one per message."""

    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, kind: str, where: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.first.setdefault(kind, where)

    def reason(self) -> str | None:
        if not self.counts:
            return None
        parts = [f"{n} {kind} (first: {self.first[kind]})" for kind, n in self.counts.items()]
        return "left out: " + "; ".join(parts)


def _load_json(members: Members, name: str, path: str) -> Any:
    data = members[name]
    text = decode(data, f"{path}!{name}")
    try:
        return loads_repaired(text)[0]  # a lone surrogate (never seen in Slack's exports) becomes U+FFFD
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}!{name}", f"invalid JSON ({exc.msg}) at line {exc.lineno} column {exc.colno}: re-export it"
        ) from exc
    except RecursionError as exc:
        raise InputError(f"{path}!{name}", "JSON nested too deeply to read: is this a real Slack export?") from exc


def _user_names(value: Any) -> dict[str, str]:
    """users.json → user id → the name Slack shows: display name, else real name, else user name."""
    names: dict[str, str] = {}
    if not isinstance(value, list):
        return names
    for user in value:
        if not isinstance(user, dict):
            continue
        uid = id_of(user.get("id"))
        name = _profile_name(user.get("profile"), user)
        if uid and name:
            names[uid] = name
    return names


def _profile_name(profile: Any, user: Any = None) -> str | None:
    candidates: list[Any] = []
    if isinstance(profile, dict):
        candidates += [profile.get("display_name"), profile.get("real_name")]
    if isinstance(user, dict):
        candidates += [user.get("real_name"), user.get("name")]
    if isinstance(profile, dict):
        candidates.append(profile.get("name"))
    return next((c.strip() for c in candidates if isinstance(c, str) and c.strip()), None)


def _conversations(
    members: Members, path: str, users: dict[str, str], found: Imported
) -> tuple[dict[str, _Conversation], dict[str, str]]:
    """The conversations the lists name (folder → conversation) and channel id → name, for ``<#C…>``."""
    listed: dict[str, _Conversation] = {}
    channel_names: dict[str, str] = {}
    for list_name, folder_key in _LISTS:
        if list_name not in members:
            continue
        try:
            value = _load_json(members, list_name, path)
        except InputError as exc:
            found.errors.append(exc)
            continue
        if not isinstance(value, list):
            found.errors.append(InputError(f"{path}!{list_name}", "not a list of conversations: re-export it"))
            continue
        for item in value:
            if not isinstance(item, dict):
                continue
            cid, name = id_of(item.get("id")), id_of(item.get("name"))
            folder = id_of(item.get(folder_key))
            if cid and name:
                channel_names[cid] = name
            if folder is None:
                continue
            if list_name == "dms.json":
                people = [users.get(m, m) for m in item.get("members") or [] if isinstance(m, str)]
                title = "Direct messages: " + ", ".join(people) if people else f"Direct messages {folder}"
            else:
                title = f"#{name or folder}"
            listed.setdefault(folder, _Conversation(folder, title, listed=True))
    return listed, channel_names


def _plain(text: str, users: dict[str, str], channels: dict[str, str]) -> str:
    """Slack mrkdwn → plain text: mentions and links as what a reader sees, entities decoded."""

    def angle(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            uid = target[1:]
            return "@" + (users.get(uid) or label.lstrip("@") or uid)
        if target.startswith("#"):
            cid = target[1:]
            return "#" + (label or channels.get(cid) or cid)
        if target.startswith("!"):
            # <!channel>, <!here>, <!subteam^S1|@team>, <!date^…|fallback>: what Slack shows.
            if label:
                return label
            keyword = target[1:].split("^", 1)[0]
            return "@" + keyword
        return label or target

    text = text.replace("\r\n", "\n")
    # ">>>" quotes everything after it: make each following line a "> " line, as normalize expects.
    block = _BLOCK_QUOTE.search(text)
    if block:
        head, rest = text[: block.start()], text[block.end() :]
        text = head + "\n".join("&gt; " + line for line in rest.split("\n"))
    text = _ANGLE.sub(angle, text)
    for entity, char in _ENTITIES:
        text = text.replace(entity, char)
    return text.strip()


def _skip_kind(message: dict[str, Any]) -> str | None:
    subtype = message.get("subtype")
    if subtype == "bot_message" or message.get("bot_id"):
        return "bot messages"
    if isinstance(subtype, str) and (subtype in _SYSTEM_SUBTYPES or subtype.startswith(_SYSTEM_PREFIXES)):
        return "join/leave/topic/system messages"
    return None


def _ts_key(ts: str) -> float:
    try:
        return float(ts)
    except ValueError:
        return float("inf")


def _read_conversation(
    conversation: _Conversation,
    members: Members,
    path: str,
    author_of: Callable[[dict[str, Any]], str | None],
    found: Imported,
) -> None:
    """Reads one conversation's day files into a draft thread whose post texts are still raw mrkdwn."""
    where = f"{path}!{conversation.folder}/"
    left_out = _LeftOut()
    kept: list[tuple[float, int, Post]] = []
    for day in conversation.days:
        member = f"{conversation.folder}/{day}"
        try:
            value = _load_json(members, member, path)
        except InputError as exc:
            found.errors.append(
                InputError(
                    exc.path, f"{exc.reason} (the day file was skipped; the rest of {conversation.title} is kept)"
                )
            )
            continue
        if not isinstance(value, list):
            found.errors.append(
                InputError(f"{path}!{member}", "not a Slack day file (expected an array of messages): skipped")
            )
            continue
        for message in value:
            ts = id_of(message.get("ts")) if isinstance(message, dict) else None
            if not isinstance(message, dict) or ts is None:
                left_out.add("malformed messages (not an object with a ts)", f"in {day}")
                continue
            kind = _skip_kind(message)
            if kind is not None:
                left_out.add(kind, f"ts {ts}")
                continue
            text = text_of(message.get("text")).strip()
            if not text:
                left_out.add("messages with no text", f"ts {ts}")
                continue
            thread_ts = id_of(message.get("thread_ts"))
            parent = thread_ts if thread_ts is not None and thread_ts != ts else None
            kept.append((_ts_key(ts), len(kept), Post(id=ts, author=author_of(message), parent_id=parent, text=text)))
    if not conversation.listed:
        found.notes.append(
            Note(where, f"folder {conversation.folder!r} is not in the export's channel lists: read as a channel")
        )
    reason = left_out.reason()
    if reason:
        found.notes.append(Note(where, reason))
    if not kept:
        found.notes.append(Note(where, f"{conversation.title}: no message with text, so no thread"))
        return
    kept.sort(key=lambda item: (item[0], item[1]))
    found.threads.append(
        DraftThread(
            id=f"slack-{conversation.folder}",
            title=conversation.title,
            source=None,
            posts=[post for _, _, post in kept],
            where=where,
            title_is_label=True,  # "#general" names the channel; it is nobody's claim
        )
    )


def parse_members(members: Members, path: str) -> Imported:
    found = Imported()
    users: dict[str, str] = {}
    if _USERS in members:
        try:
            users = _user_names(_load_json(members, _USERS, path))
        except InputError as exc:
            found.errors.append(
                InputError(exc.path, f"{exc.reason}; authors fall back to message profiles and user ids")
            )
    conversations, channel_names = _conversations(members, path, users, found)

    others: list[str] = []
    for name in members:
        folder, sep, rest = name.partition("/")
        if not sep:
            continue
        if "/" not in rest and _DAY_FILE.match(rest):
            if folder not in conversations:
                conversations[folder] = _Conversation(folder, f"#{folder}", listed=False)
            conversations[folder].days.append(rest)
        else:
            others.append(name)
    if others:
        shown = ", ".join(repr(o[:_SHOWN]) for o in others[:3]) + (" ..." if len(others) > 3 else "")
        found.notes.append(
            Note(path, f"{len(others)} file(s) in conversation folders are not day files, not read: {shown}")
        )

    profiles: dict[str, str] = {}

    def author_of(message: dict[str, Any]) -> str | None:
        uid = id_of(message.get("user"))
        profile_name = _profile_name(message.get("user_profile"))
        if uid and profile_name:
            profiles.setdefault(uid, profile_name)
        comment = message.get("comment")
        if uid is None and isinstance(comment, dict):
            uid = id_of(comment.get("user"))  # an old-style file comment names its author there
        if uid and uid in users:
            return users[uid]
        return profile_name or uid or id_of(message.get("username"))

    for folder in sorted(conversations):
        conversation = conversations[folder]
        if not conversation.days:
            continue  # listed, but the export holds no day of it (an empty or archived channel)
        conversation.days.sort()
        _read_conversation(conversation, members, path, author_of, found)
    # Rendered last: a mention of someone missing from users.json can name them from any message's profile.
    names = {**profiles, **users}
    for thread in found.threads:
        for post in thread.posts:
            post.text = _plain(post.text, names, channel_names)
    if not found.threads and not found.errors:
        found.errors.append(InputError(path, "a Slack export with no message in any channel folder: nothing to read"))
    return found


FORMATS: tuple[Format, ...] = (
    Format(
        name="slack",
        title="Slack workspace export (.zip or its unzipped folder)",
        obtain="workspace admin: https://<workspace>.slack.com/services/export → Start export → download the .zip "
        "(or `slackdump export -o export.zip`)",
        kept="one thread per channel (#name), messages in time order; authors from users.json; thread replies "
        "linked to their parent (thread_ts); mentions, channels and links as plain text; bot, join/leave/topic "
        "and other system messages and messages with no text left out (noted)",
        detect_members=detect_members,
        parse_members=parse_members,
    ),
)
