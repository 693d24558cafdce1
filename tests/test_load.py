from __future__ import annotations

import json
from pathlib import Path

from conftest import CMV_THREADS, SEEDS, need, write_thread

from pipeline.importers.native import split_plain_posts
from pipeline.load import load_inputs, safe_thread_id


def test_plain_text_is_a_post_per_line_without_blank_lines_and_per_paragraph_with_them() -> None:
    assert split_plain_posts("one\ntwo\r\nthree") == ["one", "two", "three"]
    assert split_plain_posts("para one\nstill one\n\npara two\n  \n\npara three") == [
        "para one\nstill one",
        "para two",
        "para three",
    ]


def test_seeds_load_with_unknown_authors() -> None:
    loaded = load_inputs([SEEDS])
    threads, errors = loaded.threads, loaded.errors
    assert errors == []
    assert [t.id for t in threads] == sorted(p.stem for p in SEEDS.glob("*.txt"))
    for thread in threads:
        assert all(p.author is None and p.parent_id is None for p in thread.posts)
        assert len(thread.sha256) == 64


def test_every_cmv_dev_thread_loads() -> None:
    need(CMV_THREADS.is_dir(), "../shared/eval/cmv-dev")
    files = sorted(CMV_THREADS.glob("*.json"))
    loaded = load_inputs([CMV_THREADS])
    threads, errors = loaded.threads, loaded.errors
    assert errors == []
    assert len(threads) == len(files) == 64
    first = json.loads(files[0].read_text())
    loaded = {t.id: t for t in threads}[first["id"]]
    assert [p.id for p in loaded.posts] == ["title"] + [p["id"] for p in first["posts"]]
    assert loaded.posts[2].parent_id == first["posts"][1]["parent_id"]
    assert loaded.posts[1].author == first["posts"][0]["author"]
    # the title is the opening post's thesis, quotable like any post, by its author
    assert (loaded.posts[0].text, loaded.posts[0].author) == (first["title"], first["posts"][0]["author"])


def test_jsonl_reports_bad_lines_and_keeps_good_ones(tmp_path: Path) -> None:
    good = {"id": "t1", "posts": [{"text": "hello there"}]}
    path = tmp_path / "many.jsonl"
    path.write_text(json.dumps(good) + "\n{not json\n\n" + json.dumps({"posts": "nope"}) + "\n", encoding="utf-8")
    loaded = load_inputs([path])
    threads, errors = loaded.threads, loaded.errors
    assert [t.id for t in threads] == ["t1"]
    assert threads[0].posts[0].id == "p1"
    assert [(e.line, "invalid JSON" in e.reason) for e in errors] == [(2, True), (4, False)]
    assert "schemas/thread.schema.json" in errors[1].reason


def test_bad_files_are_errors_naming_the_file_and_others_still_load(tmp_path: Path) -> None:
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "empty.txt").write_text("   \n\n")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 is good".encode("latin-1"))
    (tmp_path / "broken.json").write_text('{"posts": [')
    (tmp_path / "bom.txt").write_bytes("\ufeffA post with a BOM.\r\nAnother line.".encode())
    (tmp_path / "utf16.txt").write_bytes("First post here.\nSecond post here.".encode("utf-16"))
    loaded = load_inputs([tmp_path])
    threads, errors = loaded.threads, loaded.errors
    assert sorted(t.id for t in threads) == ["bom", "utf16"]
    bom = next(t for t in threads if t.id == "bom")
    assert [p.text for p in bom.posts] == ["A post with a BOM.", "Another line."]
    reasons = {Path(e.path).name: e.reason for e in errors}
    assert set(reasons) == {"binary.txt", "empty.txt", "latin1.txt", "broken.json"}
    assert "binary" in reasons["binary.txt"]
    assert "empty" in reasons["empty.txt"]
    assert "iconv" in reasons["latin1.txt"]
    assert "invalid JSON" in reasons["broken.json"]


def test_thread_ids_are_safe_and_unique(tmp_path: Path) -> None:
    assert safe_thread_id("../../etc/passwd") == "etc_passwd"
    assert safe_thread_id("..") == "thread"
    assert safe_thread_id("a b/c") == "a_b_c"
    write_thread(tmp_path / "a.json", "../evil", [("1", None, None, "Some text here.")])
    write_thread(tmp_path / "b.json", "../evil", [("1", None, None, "Other text here.")])
    loaded = load_inputs([tmp_path])
    threads, errors = loaded.threads, loaded.errors
    assert errors == []
    assert [t.id for t in threads] == ["evil", "evil-2"]
