"""Discord importer on real DiscordChatExporter exports (tests/fixtures/README.md) and made-up bad inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from conftest import posts_by_id, write_json

from pipeline.importers import discord, github
from pipeline.load import load_inputs
from pipeline.models import Thread

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "discord"
# #nplusplus of the N++ server: the first 14 and the last 8 of the export's 230 messages, 3 of them Replies.
NPLUSPLUS = FIXTURES / "dce2sql-nplusplus-trimmed.json"
FERRY_GENERAL = FIXTURES / "ferry-general.json"  # 10 messages of a bot account and a ThreadCreated message
FERRY_THREAD = FIXTURES / "ferry-cool-thread.json"  # a thread (GuildPublicThread) exported as its own channel
CHANNEL = "197765375503368192"
MISSING_PARENT_NOTE = (
    "1 post(s) reply to a post that is not in the thread (first: post '1324464370809311302' → "
    "'1324433140051214428'): their reply links were dropped"
)


def load(*paths: Path) -> tuple[list[Thread], list[str]]:
    loaded = load_inputs(list(paths))
    assert loaded.errors == []
    return loaded.threads, [note.reason for note in loaded.notes]


def export(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


# --- real exports ---------------------------------------------------------------------------------------------


def test_channel_export_becomes_one_thread() -> None:
    threads, notes = load(NPLUSPLUS)
    assert len(threads) == 1
    thread = threads[0]
    assert thread.id == f"discord-{CHANNEL}"
    assert thread.title == "N++ / #nplusplus"
    # The server's first channel has the server's own id: the link is still guild id / channel id.
    assert thread.source == f"https://discord.com/channels/{CHANNEL}/{CHANNEL}"
    assert thread.input_path == str(NPLUSPLUS)
    # All 22 messages are people's Default/Reply messages with text; the channel's name is no title post.
    assert len(thread.posts) == 22
    assert [p.id for p in thread.posts[:2]] == ["1323839621293015140", "1323839672409133106"]
    assert thread.posts[0].author == "MegalordX8"
    assert thread.posts[-1].id == "1324517574570147840"
    # The nickname is the author (not the account name "aloading." or "eddymatagallos").
    assert {p.author for p in thread.posts} == {
        "MegalordX8",
        "Logging in...",
        "Juniper",
        "lily [7218 / 7280]",
        "vertexv",
        "Commander Coriander Salamander",
        "nexter",
        "Sprix36",
        "Eddy",
    }
    assert notes == [MISSING_PARENT_NOTE]


def test_replies_link_to_their_message_and_text_stays_as_written() -> None:
    threads, _ = load(NPLUSPLUS)
    posts = posts_by_id(threads[0])
    assert posts["1323857103470985236"].parent_id == "1323852375164846101"
    assert posts["1323872927342395392"].parent_id == "1323839621293015140"
    # 3 Replies in the file, one answering a message outside the export's kept window.
    assert sum(1 for p in threads[0].posts if p.parent_id is not None) == 2
    assert posts["1323857103470985236"].text == "Im not here to waste time"
    assert posts["1323872927342395392"].text == "100% agreed"
    # A message with an image and reactions keeps its words; a mention stays as Discord wrote it.
    assert posts["1323839621293015140"].text == (
        "@raigan#7701 Bravo my friend, one of the best designed levels in the entire game"
    )
    assert posts["1323872974906069054"].text == (
        "this is the single best level in the game and i'll fight anyone who disagrees"
    )
    assert posts["1324517242695585904"].text == "Normally we arrange these things in #multiplayer"


def test_reply_to_a_message_outside_the_export_loses_its_link_with_a_note() -> None:
    threads, notes = load(NPLUSPLUS)
    reply = posts_by_id(threads[0])["1324464370809311302"]
    assert reply.parent_id is None and reply.author == "nexter"
    assert reply.text == "Especially given the physics are drastically different lol"
    assert MISSING_PARENT_NOTE in notes


def test_bot_and_system_messages_are_left_out_with_notes() -> None:
    # A real capture of a test server where every message was posted by a bot account, plus the system message
    # Discord writes when a thread is started.
    loaded = load_inputs([FERRY_GENERAL])
    assert loaded.threads == [] and loaded.errors == []
    assert [n.reason for n in loaded.notes] == [
        "1 system message(s) left out (ThreadCreated ×1; first: '1543572390452133893')",
        "10 bot message(s) left out (D-Ferry Test app; first: '1543572365714264084'): not part of the debate",
        "no message with text from a person: no thread",
    ]
    assert {n.thread for n in loaded.notes} == {"discord-1543572361285083187"}


def test_thread_channel_export() -> None:
    value = export(FERRY_THREAD)
    assert value["channel"]["type"] == "GuildPublicThread"
    assert discord.detect(value)
    loaded = load_inputs([FERRY_THREAD])
    assert loaded.threads == []
    assert [n.reason for n in loaded.notes] == [
        "2 bot message(s) left out (D-Ferry Test app; first: '1543572368977428611'): not part of the debate",
        "no message with text from a person: no thread",
    ]


def test_several_channels_give_one_thread_each_with_text() -> None:
    threads, notes = load(NPLUSPLUS, FERRY_GENERAL, FERRY_THREAD)
    assert [t.id for t in threads] == [f"discord-{CHANNEL}"]
    assert notes.count("no message with text from a person: no thread") == 2


# --- made-up inputs -----------------------------------------------------------------------------------------


def test_bots_repeats_and_messages_without_text(tmp_path: Path) -> None:
    # Made up from the real #nplusplus export: one author marked as a bot, an image post with its words removed
    # (as an attachment-only message is), and one message given twice (as exports of overlapping date ranges do).
    value = export(NPLUSPLUS)
    messages = value["messages"]
    by_message = {m["id"]: m for m in messages}
    by_message["1323852375164846101"]["author"]["isBot"] = True  # the message 1323857103470985236 replies to
    by_message["1323840633470714039"]["content"] = ""  # "Enlightement achieved", an image post
    repeat = copy.deepcopy(by_message["1323857626727059479"])
    repeat["content"] = "happy new years everyone! (edited)"
    messages.insert(12, repeat)
    threads, notes = load(write_json(tmp_path, "nplusplus.json", value))
    thread = threads[0]
    assert len(thread.posts) == 20
    posts = posts_by_id(thread)
    assert posts["1323857626727059479"].text == "happy new years everyone!"  # the first of the repeated id is kept
    assert [p.id for p in thread.posts].count("1323857626727059479") == 1
    assert "1323852375164846101" not in posts and "1323840633470714039" not in posts
    assert posts["1323857103470985236"].parent_id is None
    assert notes == [
        "1 bot message(s) left out (Logging in...; first: '1323852375164846101'): not part of the debate",
        "1 message(s) without text left out (attachments, stickers or embeds only; first: '1323840633470714039')",
        "1 repeat(s) of message id(s) '1323857626727059479' left out: the first message with each id is kept",
        "1 repl(ies) answer a message left out above (first: '1323857103470985236' → a message without text, by a "
        "bot or of the system): reply links dropped",
        MISSING_PARENT_NOTE,
    ]


def test_odd_messages(tmp_path: Path) -> None:
    # Made up: a deleted account, a nickname, a message with no type or id, entries that are not messages.
    value = {
        "guild": {"id": "0", "name": "Direct Messages"},
        "channel": {"id": "77", "type": "DirectTextChat", "name": "ann"},
        "messages": [
            {"id": "1", "type": "Default", "content": "Hi", "author": {"name": "Deleted User 2d4b7dbb"}},
            {"id": "2", "type": "Reply", "content": "Hello", "author": {"name": "ann", "nickname": "Ann"}},
            {"content": "no id, no type", "author": {"name": "bob", "nickname": ""}},
            42,
            {"id": "4", "type": "Call", "content": "", "author": {"name": "ann"}},
            {"id": "5", "type": "Reply", "content": "  ", "author": {"name": "ann"}, "reference": {"messageId": "1"}},
        ],
    }
    threads, notes = load(write_json(tmp_path, "dm.json", value))
    thread = threads[0]
    assert thread.title == "Direct Messages / #ann"
    assert thread.source == "https://discord.com/channels/@me/77"
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        ("1", None, None, "Hi"),
        ("2", "Ann", None, "Hello"),
        ("p3", "bob", None, "no id, no type"),
    ]
    assert "1 entr(ies) of 'messages' are not messages (first: index 3)" in notes
    assert "1 system message(s) left out (Call ×1; first: '4')" in notes
    assert "1 message(s) without text left out (attachments, stickers or embeds only; first: '5')" in notes


def test_long_reply_chain_is_read_without_recursion(tmp_path: Path) -> None:
    # Made up: 5000 messages, each a reply to the one before.
    messages = [
        {
            "id": str(i),
            "type": "Reply" if i > 1 else "Default",
            "content": f"message {i}",
            "author": {"name": f"user{i % 5}"},
            "reference": {"messageId": str(i - 1), "channelId": "9"} if i > 1 else None,
        }
        for i in range(1, 5001)
    ]
    value = {"guild": {"id": "8", "name": "g"}, "channel": {"id": "9", "name": "c"}, "messages": messages}
    threads, _ = load(write_json(tmp_path, "chain.json", value))
    posts = threads[0].posts
    assert len(posts) == 5000
    assert all(p.parent_id == str(int(p.id) - 1) for p in posts[1:])


def test_detection_is_specific() -> None:
    for path in (NPLUSPLUS, FERRY_GENERAL, FERRY_THREAD):
        assert discord.detect(export(path)), path.name
    # Made up: other platforms' shapes and ours.
    others: list[Any] = [
        {"posts": [{"id": "1", "text": "ours"}]},
        {"channel": {"id": "1"}, "messages": []},  # no guild
        {"guild": "g", "channel": {"id": "1"}, "messages": []},
        {"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": {}},
        [{"type": "message", "user": "U1", "text": "hi", "ts": "1.0"}],
        {"ok": True, "messages": [{"type": "message", "text": "slack api"}]},
        json.loads(
            (Path(__file__).resolve().parent / "fixtures" / "github" / "github3py-187-comments.json").read_text()
        ),
    ]
    for value in others:
        assert not discord.detect(value), value
    assert not github.detect(export(NPLUSPLUS))


def test_format_description() -> None:
    (fmt,) = discord.FORMATS
    assert fmt.name == "discord" and not fmt.pooled
    assert "DiscordChatExporter.Cli export" in fmt.obtain and "-f Json" in fmt.obtain
