"""What every input goes through, whatever its format: the loader's checks (ids, reply links, cycles, the
title post), detection and its errors, archives, deep nesting, and the commands around inputs (`import`,
`formats`), the output files' mode and an output directory that holds an earlier run."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import socket
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, write_thread

from pipeline.cli import cli
from pipeline.errors import InputError
from pipeline.importers import FORMATS
from pipeline.importers.base import DraftThread, Members, loads_repaired
from pipeline.importers.html import html_to_text
from pipeline.load import MAX_MEMBER_RATIO, _read_member, finish_thread, load_inputs
from pipeline.models import Post


def invoke(args: list[str]) -> Any:
    return CliRunner().invoke(cli, args, env={"OPENAI_API_KEY": "", "OPENAI_BASE_URL": ""}, catch_exceptions=False)


def test_repeated_post_ids_are_kept_renamed_with_one_note(tmp_path: Path) -> None:
    write_thread(
        tmp_path / "dup.json",
        "d",
        [("1", "ann", None, "First post."), ("1", "bob", "1", "Second post."), ("2", "cy", "1", "Third post.")],
    )
    loaded = load_inputs([tmp_path])
    assert loaded.errors == []
    posts = [p for p in loaded.threads[0].posts if p.id != "title"]
    assert [(p.id, p.author, p.parent_id) for p in posts] == [("1", "ann", None), ("1~2", "bob", "1"), ("2", "cy", "1")]
    assert len(loaded.notes) == 1
    assert loaded.notes[0].where.endswith("dup.json") and "'1'" in loaded.notes[0].reason
    assert loaded.notes[0].thread == "d"


def test_a_thread_with_no_text_is_an_input_error_and_the_file_beside_it_loads(tmp_path: Path) -> None:
    write_thread(tmp_path / "empty.json", "empty", [("1", "ann", None, ""), ("2", "bob", "1", "   ")])
    write_thread(tmp_path / "full.json", "full", [("1", "ann", None, "Hello there.")])
    loaded = load_inputs([tmp_path])
    assert [t.id for t in loaded.threads] == ["full"]
    [error] = loaded.errors
    assert error.path.endswith("empty.json") and "no post with text" in error.reason


def test_html_and_mail_parsing_fetch_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    attempts: list[Any] = []

    def refuse(*args: Any, **kwargs: Any) -> None:
        attempts.append(args)
        raise OSError("no network in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    html = (
        '<!DOCTYPE html SYSTEM "http://example.com/evil.dtd"><link rel="stylesheet" href="http://example.com/s.css">'
        '<p>Text <img src="http://example.com/pixel.png"> and <iframe src="http://example.com/"></iframe> more.</p>'
    )
    assert html_to_text(html) == "Text  and  more."
    message = (
        "From a@example.com Mon Jan  1 00:00:00 2024\nFrom: Ann <a@example.com>\nMessage-ID: <1@x>\n"
        "Subject: Pixels\nContent-Type: text/html\n\n" + html + "\n"
    )
    (tmp_path / "list.mbox").write_text(message)
    [thread] = load_inputs([tmp_path]).threads
    assert thread.posts[-1].text == "Text  and  more." and attempts == []


def test_a_reply_to_a_missing_post_keeps_the_post_drops_the_link_and_says_so(tmp_path: Path) -> None:
    # The usual converter bug: Reddit's t1_ prefix left on parent ids.
    write_thread(
        tmp_path / "t.json",
        "t",
        [("a", "x", None, "Opening post."), ("b", "y", "t1_a", "A reply."), ("c", "z", "nowhere", "Another.")],
    )
    loaded = load_inputs([tmp_path])
    posts = {p.id: p for p in loaded.threads[0].posts}
    assert posts["b"].parent_id is None and posts["c"].parent_id is None and posts["b"].text == "A reply."
    dangling, prefixed = loaded.notes
    assert dangling.reason.startswith("2 post(s) reply to a post that is not in the thread (first: post 'b' → 't1_a')")
    assert prefixed.reason.startswith("1 of those parent ids name a post once the Reddit type prefix")
    assert dangling.thread == prefixed.thread == "t"


def test_repairs_in_many_threads_of_one_file_are_one_note_per_kind(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {"id": f"t{i}", "posts": [{"id": "a", "text": "Opening."}, {"id": "b", "parent_id": "x", "text": "Hi."}]}
        )
        for i in range(50)
    ]
    (tmp_path / "many.jsonl").write_text("\n".join(lines))
    loaded = load_inputs([tmp_path])
    assert len(loaded.threads) == 50
    [note] = loaded.notes
    assert note.reason.startswith("50 post(s) reply to a post that is not in the thread (first: post 'b' → 'x')")
    assert note.reason.endswith("(in 50 threads, first: t0)") and note.where.endswith("many.jsonl")


def test_a_reply_cycle_is_cut_with_a_note(tmp_path: Path) -> None:
    write_thread(tmp_path / "c.json", "c", [("a", None, "b", "One says this."), ("b", None, "a", "Two says that.")])
    loaded = load_inputs([tmp_path])
    parents = {p.id: p.parent_id for p in loaded.threads[0].posts}
    assert parents == {"title": None, "a": "b", "b": None}
    assert "cycle" in loaded.notes[0].reason


def test_an_opening_post_that_is_its_title_is_not_repeated_and_its_replies_keep_their_relations(
    tmp_path: Path,
) -> None:
    # A Hacker News link story: the only text of the opening post is its title.
    title = "Show HN: A tool that turns threads into briefs"
    write_thread(
        tmp_path / "story.json",
        "story",
        [
            ("1", "founder", None, title),
            ("2", "alice", "1", "I don't think this works. Summaries of threads always lose the nuance."),
            ("3", "bob", "1", "This is wrong: nobody reads briefs, they read the comments themselves."),
        ],
        title=title,
    )
    [thread] = load_inputs([tmp_path]).threads
    assert [p.id for p in thread.posts] == ["1", "2", "3"]
    out = tmp_path / "out"
    assert invoke(["run", str(tmp_path / "story.json"), "-o", str(out), "--backend", "offline"]).exit_code == 0
    brief = json.loads((out / "story" / "brief.json").read_text())
    by_post = {c["id"]: c["post_id"] for c in brief["claims"]}
    rebutted = {by_post[r["target"]] for r in brief["relations"] if by_post[r["source"]] in ("2", "3")}
    assert rebutted == {"1"}
    assert all(p["duplicate_of"] is None for p in brief["posts"])


def test_the_title_post_is_by_nobody_known_without_the_opening_post_and_absent_for_a_label() -> None:
    def draft(**flags: bool) -> DraftThread:
        posts = [Post("c1", "bob", None, "A comment on a post we do not have."), Post("c2", "cy", "c1", "A reply.")]
        return DraftThread("t", "Rents should be capped", None, posts, "x.json", **flags)

    with_opening, _ = finish_thread(draft(), "0" * 64)
    assert (with_opening.posts[0].id, with_opening.posts[0].author) == ("title", "bob")
    without, _ = finish_thread(draft(has_opening_post=False), "0" * 64)
    assert (without.posts[0].id, without.posts[0].author, without.posts[0].text) == (
        "title",
        None,
        "Rents should be capped",
    )
    label, _ = finish_thread(draft(title_is_label=True), "0" * 64)
    assert [p.id for p in label.posts] == ["c1", "c2"] and label.title == "Rents should be capped"


def test_an_unknown_json_shape_names_the_formats_tried_and_never_echoes_the_file(tmp_path: Path) -> None:
    big = {"data": [{"field": "x" * 1000} for _ in range(500)]}
    (tmp_path / "odd.json").write_text(json.dumps(big))
    loaded = load_inputs([tmp_path])
    [error] = loaded.errors
    assert "unknown JSON shape (tried: thread," in error.reason and "threadbrief schema thread" in error.reason
    assert len(str(error)) < 600
    # A schema failure of a thread-shaped file quotes at most a bounded part of it too.
    (tmp_path / "odd.json").write_text(json.dumps({"posts": [{"text": ["y" * 100_000]}]}))
    [error] = load_inputs([tmp_path]).errors
    assert len(str(error)) <= InputError.MAX_REASON + len(str(tmp_path)) + 20


def test_json_nested_5000_levels_is_one_input_error_and_the_others_are_briefed(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (inputs / "deep.jsonl").write_text('{"a":' * 5000 + "1" + "}" * 5000 + "\n")
    write_thread(inputs / "good.json", "good", [("1", "ann", None, "Taxes should be lower for small firms.")])
    out = tmp_path / "out"
    result = invoke(["run", str(inputs), "-o", str(out), "--backend", "offline"])
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    manifest = json.loads((out / "run.json").read_text())
    assert [t["id"] for t in manifest["threads"]] == ["good"]
    assert [(Path(e["input"]).name, "nested too deeply" in e["reason"]) for e in manifest["input_errors"]] == [
        ("deep.json", True),
        ("deep.jsonl", True),
    ]


def test_an_unsupported_file_in_a_directory_is_named_and_the_rest_loads(tmp_path: Path) -> None:
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    (tmp_path / "notes.py").write_text("print('hello')\n")
    (tmp_path / "thread.txt").write_text("One post.\n\nAnother post.")
    loaded = load_inputs([tmp_path])
    assert [t.id for t in loaded.threads] == ["thread"]
    reasons = {Path(e.path).name: e.reason for e in loaded.errors}
    assert set(reasons) == {"photo.png", "notes.py"}
    assert "binary" in reasons["photo.png"] and "unsupported file type .py" in reasons["notes.py"]


def test_json_lines_named_json_are_read_as_json_lines_and_broken_json_is_still_an_error(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"t{i}", "posts": [{"text": f"Post {i}."}]}) for i in range(2)]
    (tmp_path / "dump.json").write_text("\n".join(lines) + "\n")
    (tmp_path / "broken.json").write_text('{"posts": [\n{"text": "x"}')
    loaded = load_inputs([tmp_path])
    assert [t.id for t in loaded.threads] == ["t0", "t1"]
    [error] = loaded.errors
    assert error.path.endswith("broken.json") and "invalid JSON" in error.reason


def test_an_empty_json_document_is_a_note_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "comments.json").write_text("[]\n")
    write_thread(tmp_path / "t.json", "t", [("1", "ann", None, "Hello there.")])
    loaded = load_inputs([tmp_path])
    assert [t.id for t in loaded.threads] == ["t"] and loaded.errors == []
    assert [(Path(n.where).name, n.reason) for n in loaded.notes] == [
        ("comments.json", "an empty JSON document: nothing to read")
    ]


def test_a_txt_file_holding_a_json_thread_is_read_as_json(tmp_path: Path) -> None:
    write_thread(tmp_path / "saved.txt", "saved", [("1", "ann", None, "Hello there.")])
    [thread] = load_inputs([tmp_path]).threads
    assert (thread.id, [p.id for p in thread.posts]) == ("saved", ["title", "1"])


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_an_archive_member_expanding_past_the_ratio_limit_is_refused_while_reading(tmp_path: Path) -> None:
    archive_path = _zip(tmp_path / "bomb.zip", {"users.json": b"\0" * (30 << 20)})
    with zipfile.ZipFile(archive_path) as archive:
        info = archive.getinfo("users.json")
        assert info.file_size / info.compress_size > MAX_MEMBER_RATIO
        with pytest.raises(InputError, match="zip bomb"):
            _read_member(archive, info, "bomb.zip!users.json")
    small = _zip(tmp_path / "ok.zip", {"a.json": b"[]" * 100})
    with zipfile.ZipFile(small) as archive:
        assert _read_member(archive, archive.getinfo("a.json"), "ok.zip!a.json") == b"[]" * 100


def test_an_archive_that_is_no_export_or_has_unsafe_paths_is_an_input_error(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../escape.json", "[]")
        archive.writestr("/abs.json", "[]")
        archive.writestr("readme.txt", "hello")
    (tmp_path / "odd.zip").write_bytes(buffer.getvalue())
    loaded = load_inputs([tmp_path / "odd.zip"])
    reasons = [e.reason for e in loaded.errors]
    assert sum("absolute or '..' path: refused" in r for r in reasons) == 2
    assert any("no export we read" in r for r in reasons)
    assert not (tmp_path / "escape.json").exists() and not Path("/abs.json").exists()


def test_a_compressed_mbox_is_read_as_mail_and_compressed_junk_is_one_error(tmp_path: Path) -> None:
    mbox = (ROOT / "tests" / "fixtures" / "mail" / "users_ponymail_apache_org_2022-01.mbox").read_bytes()
    (tmp_path / "2022-January.txt.gz").write_bytes(gzip.compress(mbox))
    (tmp_path / "junk.jsonl.gz").write_bytes(gzip.compress(b'{"x": 1\n' * 500))
    loaded = load_inputs([tmp_path])
    assert (
        len(loaded.threads)
        == len(load_inputs([ROOT / "tests" / "fixtures" / "mail" / "users_ponymail_apache_org_2022-01.mbox"]).threads)
        > 0
    )
    [error] = loaded.errors
    assert error.path.endswith("junk.jsonl.gz") and error.reason == "not JSON Lines: none of the first 20 records reads"


def test_a_truncated_compressed_dump_keeps_the_records_before_the_break(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"t{i}", "posts": [{"text": f"Post number {i} " + "word " * 50}]}) for i in range(400)]
    packed = gzip.compress("\n".join(lines).encode())
    (tmp_path / "dump.jsonl.gz").write_bytes(packed[: len(packed) // 2])
    loaded = load_inputs([tmp_path])
    assert 0 < len(loaded.threads) < 400
    assert [t.id for t in loaded.threads] == [f"t{i}" for i in range(len(loaded.threads))]
    [error] = loaded.errors
    assert error.reason.startswith("the stream breaks off (") and error.reason.endswith("the records before it kept")


def test_members_read_lazily() -> None:
    reads: list[str] = []
    members = Members(["a", "b"], lambda name: reads.append(name) or name.encode())
    assert list(members) == ["a", "b"] and "a" in members and reads == []
    assert members["b"] == b"b" and reads == ["b"]


def test_import_writes_thread_json_that_runs_like_the_original(tmp_path: Path) -> None:
    source = write_thread(
        tmp_path / "src.json",
        "t",
        [("1", "ann", None, "Rents rise because supply is capped."), ("2", "bob", "1", "No, demand grew faster.")],
        title="Why rents rise",
    )
    out = tmp_path / "imported"
    result = invoke(["import", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    written = json.loads((out / "t.json").read_text())
    assert written["title"] == "Why rents rise"
    assert [(p["id"], p["parent_id"]) for p in written["posts"]] == [("1", None), ("2", "1")]  # no title post
    [original] = load_inputs([source]).threads
    [again] = load_inputs([out / "t.json"]).threads
    assert [(p.id, p.author, p.parent_id, p.text) for p in again.posts] == [
        (p.id, p.author, p.parent_id, p.text) for p in original.posts
    ]


def test_formats_lists_every_format_and_the_readme_table_matches() -> None:
    result = invoke(["formats"])
    assert result.exit_code == 0
    for fmt in FORMATS:
        assert f"{fmt.name}\n  {fmt.title}\n" in result.stdout
    table = invoke(["formats", "--markdown"]).stdout
    assert re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M) == [fmt.name for fmt in FORMATS]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    inputs_section = readme.split("## Inputs", 1)[1].split("\n## ", 1)[0]
    assert table in inputs_section, "the README's table is `threadbrief formats --markdown`"


def test_output_files_follow_the_umask(tmp_path: Path) -> None:
    write_thread(tmp_path / "t.json", "t", [("1", "ann", None, "Rents rise because supply is capped.")])
    old = os.umask(0o022)
    try:
        assert invoke(["run", str(tmp_path / "t.json"), "-o", str(tmp_path / "out")]).exit_code == 0
    finally:
        os.umask(old)
    for path in [tmp_path / "out" / "run.json", tmp_path / "out" / "t" / "brief.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_run_into_an_earlier_runs_directory_names_its_folders_and_report_and_export_leave_them_out(
    tmp_path: Path,
) -> None:
    write_thread(tmp_path / "a.json", "a", [("1", "ann", None, "Rents rise because supply is capped.")])
    write_thread(tmp_path / "b.json", "b", [("1", "bob", None, "Rents rise because demand grew.")])
    out = tmp_path / "out"
    assert invoke(["run", str(tmp_path / "a.json"), "-o", str(out)]).exit_code == 0
    second = invoke(["run", str(tmp_path / "b.json"), "-o", str(out)])
    assert second.exit_code == 0
    assert "holds 1 thread folder(s) this run did not write (a)" in second.stderr
    assert json.loads((out / "run.json").read_text())["earlier_thread_folders"] == ["a"]
    exported = invoke(["export", str(out), "--format", "jsonl"])
    assert {json.loads(line)["thread_id"] for line in exported.stdout.splitlines()} == {"b"}
    assert "left out 1 thread folder(s) that run.json does not list (a)" in exported.stderr
    assert invoke(["report", str(out)]).exit_code == 0
    assert sorted(p.name for p in (out / "report" / "threads").iterdir()) == ["b.html"]
    # A folder with no brief.json (the report's own) is no thread folder, for a run or an export.
    third = invoke(["run", str(tmp_path / "b.json"), "-o", str(out)])
    assert json.loads((out / "run.json").read_text())["earlier_thread_folders"] == ["a"]
    assert "left out 1 thread folder(s) that run.json does not list (a)" in invoke(["export", str(out)]).stderr
    assert third.exit_code == 0


def test_loads_repaired_replaces_lone_surrogates_everywhere_and_keeps_escaped_pairs() -> None:
    deep = "[" * 900 + '"\\udc00"' + "]" * 900  # as deep as json.loads reads
    value, replaced = loads_repaired(deep)
    for _ in range(900):
        value = value[0]
    assert (value, replaced) == ("\ufffd", 1)
    text = '{"k\\ud83d": ["a\\ud83d\\ude00b", "cut \\ud83d", {"x": "\\ude00 low"}], "n": 1}'
    assert loads_repaired(text) == ({"n": 1, "k\ufffd": ["a\U0001f600b", "cut \ufffd", {"x": "\ufffd low"}]}, 3)
    assert loads_repaired('"\\\\ud83d is a backslash and text"') == ("\\ud83d is a backslash and text", 0)
    assert loads_repaired('"plain"') == ("plain", 0)


def test_a_lone_surrogate_in_an_export_is_replaced_with_a_note_and_the_run_completes(tmp_path: Path) -> None:
    """An emoji cut in half by a length limit reaches JSON as a lone \\ud83d escape (Reddit dumps have them):
    it cannot be written as UTF-8, and it used to fail the thread or stop the whole run."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    text = "Cats are better than dogs \\ud83d, and \\ud83d\\ude00 stays a smile."
    (inputs / "t.json").write_text(
        '{"id": "t", "posts": [{"id": "a", "author": "ann", "parent_id": null, "text": "' + text + '"}]}',
        encoding="utf-8",
    )
    comment = {"id": "c1", "link_id": "t3_abc", "parent_id": "t3_abc", "author": "x", "created_utc": 1}
    lines = [json.dumps({**comment, "id": f"c{n}", "body": "fine"}) for n in range(1, 3)]
    lines.append(json.dumps({**comment, "id": "c3"})[:-1] + ', "body": "half \\udc00 and \\ud83d"}')
    (inputs / "RC_x.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(inputs), "-o", str(out), "--backend", "offline", "-q"])
    assert result.exit_code == 0, result.stderr
    manifest = json.loads((out / "run.json").read_text("utf-8"))
    assert {t["id"]: t["status"] for t in manifest["threads"]} == {"t": "complete", "reddit-abc": "complete"}
    notes = {n["input"]: n["reason"] for n in manifest["input_notes"] if "surrogate" in n["reason"]}
    assert "1 lone UTF-16 surrogate(s)" in notes[str(inputs / "t.json")]
    assert (
        "2 lone UTF-16 surrogate(s)" in notes[str(inputs / "RC_x.jsonl")]
        and "line 3" in notes[str(inputs / "RC_x.jsonl")]
    )
    brief = json.loads((out / "t" / "brief.json").read_text("utf-8"))
    assert brief["posts"][0]["text"] == "Cats are better than dogs \ufffd, and \U0001f600 stays a smile."


def test_a_file_name_that_is_not_utf8_is_shown_escaped_and_its_thread_runs(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path / "in")
    os.mkdir(folder)
    with open(folder + b"/caf\xe9.json", "wb") as handle:  # Latin-1 "café": str() keeps the byte as a surrogate
        handle.write(b'{"id": "t", "posts": [{"id": "a", "author": null, "parent_id": null, "text": "Cats win."}]}')
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(tmp_path / "in"), "-o", str(out), "--backend", "offline", "-q"])
    assert result.exit_code == 0, result.stderr
    [entry] = json.loads((out / "run.json").read_text("utf-8"))["threads"]
    assert entry["status"] == "complete" and entry["input_path"] == str(tmp_path / "in") + "/caf\\xe9.json"
