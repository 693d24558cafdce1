"""Slack workspace exports: the real fixtures in tests/fixtures/slack/ (sources: tests/fixtures/README.md), read as a
folder and as zips built from them, plus bad inputs. Data written in this file is made up and says so."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

from pipeline.importers.base import Members
from pipeline.importers.slack import FORMATS, detect_members
from pipeline.load import load_inputs
from pipeline.models import Thread

FIXTURES = Path(__file__).parent / "fixtures" / "slack"
PLAN8 = FIXTURES / "zulip-plan8team"
ZULIP = FIXTURES / "zulip-export"


def _threads(paths: list[Path]) -> dict[str, Thread]:
    loaded = load_inputs(paths)
    assert loaded.errors == []
    return {t.id: t for t in loaded.threads}


def _posts(thread: Thread) -> list[tuple[str, str | None, str | None, str]]:
    return [(p.id, p.author, p.parent_id, p.text) for p in thread.posts]


def _zip_of(folder: Path, target: Path, wrapper: str = "") -> Path:
    """The fixture's files zipped in memory (as Slack ships an export), then written to one file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.writestr(wrapper + file.relative_to(folder).as_posix(), file.read_bytes())
    target.write_bytes(buffer.getvalue())
    return target


# --- the real 2017/2018 export (Zulip's plan8team test workspace): authors, mentions, files, joins -------


def test_channel_becomes_a_thread_with_its_title_and_counts() -> None:
    threads = _threads([PLAN8])
    assert sorted(threads) == ["slack-random"]
    random = threads["slack-random"]
    assert (random.title, random.source) == ("#random", None)
    # The two day files hold 2 + 11 = 13 messages; 4 are joins, so 9 posts. "#random" names the channel,
    # it is nobody's claim: no title post.
    assert len(random.posts) == 9
    assert all(p.id != "title" for p in random.posts)
    # Post id = ts, in time order across the day files; this export has no Slack threads.
    ids = [p.id for p in random.posts]
    assert ids[:3] == ["1498401071.279035", "1516454537.000093", "1516457078.000065"]
    assert ids == sorted(ids, key=float)
    assert all(p.parent_id is None for p in random.posts)


def test_authors_are_display_names_from_users_json() -> None:
    random = _threads([PLAN8])["slack-random"]
    # users.json: display_name "k._" (real_name "Josef K."), "Steve" ("Steve Howell"), "Rhea" ("Rhea Parekh").
    assert [p.author for p in random.posts] == ["k._", "Steve", "k._", "k._"] + ["Rhea"] * 5
    assert _posts(random)[0:2] == [
        ("1498401071.279035", "k._", None, "edfadfa"),
        ("1516454537.000093", "Steve", None, "This is Steve typing random stuff."),
    ]


def test_mentions_links_quotes_and_entities_become_plain_text() -> None:
    texts = {p.id: p.text for p in _threads([PLAN8])["slack-random"].posts}
    # A file_share: <@U…> is the uploader's display name, <url|label> keeps the label.
    assert texts["1516457078.000065"] == "@k._ uploaded a file: dirac72.md and commented: test upload attachment"
    # Slack's own <!channel> becomes what Slack shows; a typed "@everyone" and mrkdwn stay as written.
    assert (texts["1516468529.000046"], texts["1516468505.000010"]) == ("@channel", "@everyone")
    assert texts["1516468219.000018"].endswith("like bold and italic ~*_random_*~ while slack does")
    # "&gt;" quote lines (Zulip's fixture, exported from a 2026 workspace) are ">" quote lines.
    quote = next(p.text for p in _threads([ZULIP])["slack-general"].posts if p.id == "1772029790.709499")
    assert quote.startswith("> Hello there, I am a rich text section block!\n> *Hello")
    for text in [*texts.values(), quote]:
        assert "<@" not in text and "<http" not in text and "<#" not in text and "<!" not in text
        assert "&gt;" not in text and "&lt;" not in text and "&amp;" not in text


def test_joins_are_left_out_with_one_note_per_channel() -> None:
    loaded = load_inputs([PLAN8])
    assert [(n.where, n.reason) for n in loaded.notes] == [
        (f"{PLAN8}!random/", "left out: 4 join/leave/topic/system messages (first: ts 1498401043.277604)")
    ]
    texts = [p.text for t in loaded.threads for p in t.posts]
    assert not any("has joined the channel" in t for t in texts)
    # The file_share carries "bot_id": null: a person's message, kept, not counted as a bot message.
    assert any(t.startswith("@k._ uploaded a file") for t in texts)


def test_unicode_escaped_names_and_file_comments_on_a_copy(tmp_path: Path) -> None:
    export = shutil.copytree(PLAN8, tmp_path / "export")
    made_up = [
        {"type": "message", "user": "U8VAHEVUY", "ts": "1516500000.000001", "text": "made up: ping <@U8X25EBAB>"},
        {
            "type": "message",
            "subtype": "file_comment",
            "ts": "1516500000.000002",
            "text": "<@U8W3QFGQ5> commented on <@U6006P1CN>\u2019s file: made up",
            "comment": {"user": "U8W3QFGQ5", "comment": "made up"},
        },
    ]
    (export / "random" / "2018-01-21.json").write_text(json.dumps(made_up), encoding="utf-8")
    random = _threads([export])["slack-random"]
    # users.json spells Rishi's display name in \u escapes (Devanagari and Han): the JSON parser decodes them.
    assert [(p.author, p.text) for p in random.posts[-2:]] == [
        ("Steve", "made up: ping @\u6c49\u8bed \u0939\u093f\u0928\u094d\u0926\u0940"),
        ("Rhea", "@Rhea commented on @k._\u2019s file: made up"),  # an old-style file comment names its author there
    ]


# --- threads (Zulip's Slack fixtures): replies linked, profiles, channel links --------------------------


def test_thread_replies_link_to_the_message_they_answer() -> None:
    threads = _threads([ZULIP])
    assert sorted(threads) == ["slack-general", "slack-random"]
    assert _posts(threads["slack-random"]) == [
        ("1434139102.000002", "Jane", None, "message body text"),
        ("1434139200.000002", "Jane", None, "message body text"),
        ("1439868294.000007", "Jane", "1434139102.000002", "random"),  # in a later day file
        ("1439869295.000008", "Jon", "1434139200.000002", "The first reply to the third thread"),
    ]


def test_authors_and_mentions_fall_back_to_message_profiles() -> None:
    general = _threads([ZULIP])["slack-general"]
    assert _posts(general) == [
        (
            "1772029188.953659",
            "Peter",
            None,
            "Text with a link\n*Text with a link*\n_Text with a link_\nText with a link\n~Text with a link~",
        ),
        (
            "1772029790.709499",
            "Peter",
            None,
            "> Hello there, I am a rich text section block!\n> *Hello there, I am a rich text section block!*\n"
            "> ~_*`Hello there, I am a rich text section block!`*_~",
        ),
        # A channel not in channels.json keeps its id; a labelled one shows its label.
        ("1772112421.729059", "Peter", None, "#C079A3FA12P #rich-text-blocks #general"),
        # U06NU4E26M9 is not in users.json: named from the user_profile of its own messages; U074… is unknown.
        ("1772112471.400529", "Peter", None, "@Peter test user mention @U074VRHQ11T"),
    ]


# --- the same exports zipped -----------------------------------------------------------------------------


def test_zip_reads_like_the_folder(tmp_path: Path) -> None:
    folder = _threads([PLAN8])
    zipped = _threads([_zip_of(PLAN8, tmp_path / "zulip-plan8team.zip")])
    assert sorted(zipped) == sorted(folder)
    for thread_id, thread in folder.items():
        assert _posts(zipped[thread_id]) == _posts(thread)


def test_zip_with_a_wrapper_folder(tmp_path: Path) -> None:
    archive = _zip_of(ZULIP, tmp_path / "export.zip", wrapper="Zulip Slack export Feb 2026/")
    loaded = load_inputs([archive])
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    assert _posts(threads["slack-random"]) == _posts(_threads([ZULIP])["slack-random"])
    assert threads["slack-random"].input_path == f"{archive}!random/"


def test_export_folder_found_inside_a_directory(tmp_path: Path) -> None:
    shutil.copytree(ZULIP, tmp_path / "exports" / "workspace")
    (tmp_path / "exports" / "notes.txt").write_text("Made-up note beside the export.\n", encoding="utf-8")
    loaded = load_inputs([tmp_path / "exports"])
    assert loaded.errors == []
    assert sorted(t.id for t in loaded.threads) == ["notes", "slack-general", "slack-random"]


# --- bad inputs (made up, on copies of the real fixture) ----------------------------------------------------


def test_invalid_day_file_is_an_error_for_that_file_and_the_channel_is_kept(tmp_path: Path) -> None:
    export = shutil.copytree(ZULIP, tmp_path / "export")
    (export / "random" / "2015-08-18.json").write_text('[{"text": "made up, cut off', encoding="utf-8")
    loaded = load_inputs([export])
    assert len(loaded.errors) == 1
    error = loaded.errors[0]
    assert error.path == f"{export}!random/2015-08-18.json"
    assert error.reason.startswith("invalid JSON (")
    assert "the rest of #random is kept" in error.reason
    random = next(t for t in loaded.threads if t.id == "slack-random")
    assert [p.id for p in random.posts] == ["1434139102.000002", "1434139200.000002"]
    assert any(t.id == "slack-general" for t in loaded.threads)


def test_day_file_nested_thousands_deep_is_an_error_not_a_crash(tmp_path: Path) -> None:
    export = shutil.copytree(ZULIP, tmp_path / "export")
    (export / "random" / "2015-08-18.json").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")  # made up
    loaded = load_inputs([export])
    assert [e.path for e in loaded.errors] == [f"{export}!random/2015-08-18.json"]
    assert "nested too deeply" in loaded.errors[0].reason
    assert sorted(t.id for t in loaded.threads) == ["slack-general", "slack-random"]


def test_unlisted_channel_folder_is_read_and_noted(tmp_path: Path) -> None:
    export = shutil.copytree(ZULIP, tmp_path / "export")
    shutil.copytree(export / "random", export / "off-the-list")
    loaded = load_inputs([export])
    assert loaded.errors == []
    thread = next(t for t in loaded.threads if t.id == "slack-off-the-list")
    assert thread.title == "#off-the-list"
    assert len(thread.posts) == 4  # the four messages of random/, copied; no title post for a channel
    assert [n.reason for n in loaded.notes if n.where == f"{export}!off-the-list/"] == [
        "folder 'off-the-list' is not in the export's channel lists: read as a channel"
    ]


def test_messages_without_text_or_ts_and_system_subtypes_are_noted(tmp_path: Path) -> None:
    export = shutil.copytree(ZULIP, tmp_path / "export")
    made_up = [
        {"type": "message", "user": "U061A5N1G", "ts": "1500000000.000100", "text": "&gt;&gt;&gt;quoted\nsecond"},
        {"type": "message", "user": "U061A1R2R", "ts": "1500000000.000200", "text": "<!channel> a &amp;lt; b"},
        {"type": "message", "user": "U061A1R2R", "ts": "1500000000.000300", "text": "", "files": [{"id": "F1"}]},
        {"type": "message", "subtype": "channel_topic", "user": "U061A1R2R", "ts": "1500000000.000400", "text": "t"},
        {"type": "message", "subtype": "group_purpose", "user": "U061A1R2R", "ts": "1500000000.000500", "text": "p"},
        {"type": "message", "bot_id": "B1", "ts": "1500000000.000600", "text": "deploy finished"},
        {"type": "message", "text": "no ts"},
        "not an object",
    ]
    (export / "random" / "2017-07-14.json").write_text(json.dumps(made_up), encoding="utf-8")
    loaded = load_inputs([export])
    assert loaded.errors == []
    random = next(t for t in loaded.threads if t.id == "slack-random")
    assert [(p.id, p.author, p.text) for p in random.posts[-2:]] == [
        ("1500000000.000100", "Jane", "> quoted\n> second"),
        ("1500000000.000200", "Jon", "@channel a &lt; b"),
    ]
    assert [n.reason for n in loaded.notes if n.where == f"{export}!random/"] == [
        "left out: 1 messages with no text (first: ts 1500000000.000300); 2 join/leave/topic/system messages "
        "(first: ts 1500000000.000400); 1 bot messages (first: ts 1500000000.000600); 2 malformed messages "
        "(not an object with a ts) (first: in 2017-07-14.json)"
    ]


def test_unreadable_users_json_keeps_the_messages(tmp_path: Path) -> None:
    export = shutil.copytree(ZULIP, tmp_path / "export")
    (export / "users.json").write_text("{made up", encoding="utf-8")
    loaded = load_inputs([export])
    assert [e.path for e in loaded.errors] == [f"{export}!users.json"]
    random = next(t for t in loaded.threads if t.id == "slack-random")
    assert {p.author for p in random.posts} == {"U061A5N1G", "U061A1R2R"}


def test_detection_needs_users_a_channel_list_and_a_folder() -> None:
    def top(*names: str) -> Members:
        return Members(list(names), lambda _name: b"")

    assert detect_members(top("channels.json", "general/", "users.json"))
    assert detect_members(top("dms.json", "D0123/", "users.json"))
    assert not detect_members(top("channels.json", "users.json"))  # no conversation folder
    assert not detect_members(top("general/", "users.json"))  # no channel list
    assert not detect_members(top("cur/", "new/", "tmp/"))  # a maildir
    assert not detect_members(top("guild.json", "messages/"))


def test_a_folder_that_is_no_export_is_not_read_as_slack(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    (folder / "general").mkdir(parents=True)
    (folder / "users.json").write_text('{"posts": [{"id": "1", "text": "Made up."}]}', encoding="utf-8")
    (folder / "general" / "2020-01-01.txt").write_text("Made-up plain text.\n", encoding="utf-8")
    loaded = load_inputs([folder])
    assert loaded.errors == []
    assert sorted(t.id for t in loaded.threads) == ["2020-01-01", "users"]


def test_format_is_described() -> None:
    (fmt,) = FORMATS
    assert fmt.name == "slack"
    assert "services/export" in fmt.obtain
    assert fmt.detect_members is detect_members and fmt.parse_members is not None
