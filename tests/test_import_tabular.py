"""CSV / TSV of comments: the real fixture in tests/fixtures/tabular/ (sources: tests/fixtures/README.md), and
bad inputs.
Data written in this file is made up and says so."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.importers.base import ImportOptions
from pipeline.importers.tabular import FORMATS, detect_bytes, parse_bytes
from pipeline.load import load_inputs
from pipeline.models import Thread

FIXTURE = Path(__file__).parent / "fixtures" / "tabular" / "reddit-suspicious-accounts-comments.csv"
STEM = FIXTURE.stem


def _load(path: Path, options: ImportOptions | None = None) -> dict[str, Thread]:
    loaded = load_inputs([path], options)
    assert loaded.errors == []
    return {t.id: t for t in loaded.threads}


def _links(thread: Thread) -> list[tuple[str, str | None]]:
    return [(p.id, p.parent_id) for p in thread.posts]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- the real file: threads, titles, links, authors, text -------------------------------------------------


def test_rows_are_grouped_into_threads_by_link_id() -> None:
    threads = _load(FIXTURE)
    # 30 rows (the file's first 30 records) on 27 submissions; every row kept, plus one title post per thread.
    assert len(threads) == 27
    assert sum(len(t.posts) - 1 for t in threads.values()) == 30
    assert all(t.posts[0].id == "title" for t in threads.values())
    assert list(threads)[:3] == [f"{STEM}-4wkn7m", f"{STEM}-4v5xpc", f"{STEM}-4uiezg"]  # the file's order
    politics = threads[f"{STEM}-4rdu5x"]
    assert politics.title == "Hillary's war on Black Americans"
    assert politics.source == "https://www.reddit.com/r/politics/comments/4rdu5x/hillarys_war_on_black_americans/"
    assert [p.id for p in politics.posts] == ["title", "d509t9i", "d509b1v", "d508tla"]
    assert threads[f"{STEM}-4uiezg"].title == (
        "No Charges for Cops Who \u2018Accidentally\u2019 Fired 107 Bullets at an Innocent Mom and Daughter"
    )


def test_parents_outside_the_file_are_dropped_and_noted() -> None:
    loaded = load_inputs([FIXTURE])
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    # 24 rows answer the submission itself (parent t3_<thread>): top-level, no parent. The other 6 answer
    # comments (t1_...) that are not among these rows: the loader drops those links and says so once.
    assert all(p.parent_id is None for t in threads.values() for p in t.posts)
    dropped = [n.reason for n in loaded.notes if "not in the thread" in n.reason]
    assert dropped == [
        "6 post(s) reply to a post that is not in the thread (first: post 'd5qvqfw' \u2192 't1_d5qeyrw'): their "
        f"reply links were dropped (in 4 threads, first: {STEM}-4uiezg)"
    ]
    assert not any("Reddit type prefixes" in n.reason for n in loaded.notes)  # no t1_ parent names a row here
    assert [(p.id, p.author) for p in threads[f"{STEM}-38v84b"].posts[1:]] == [
        ("crydani", "FaurnFlamebreaker"),
        ("crya21g", "FaurnFlamebreaker"),
    ]


def test_authors_come_from_author_name() -> None:
    threads = _load(FIXTURE)
    authors = [p.author for t in threads.values() for p in t.posts[1:]]
    assert authors == ["BlackToLive"] * 8 + ["FaurnFlamebreaker"] * 4 + ["Bill_Jonson"] + ["Clawisma"] * 17
    # link_author "[deleted]" (d5quz9y's submission) is not the comment's author column.
    assert threads[f"{STEM}-4uicjv"].posts[1].author == "BlackToLive"


def test_quoted_fields_spanning_lines_and_escaped_quotes() -> None:
    texts = {p.id: p.text for t in _load(FIXTURE).values() for p in t.posts}
    assert texts["crzak7a"] == (
        "Only 125? Why not 10?\nIslamic state has captured half Syria, they are close to Baghdad and keep "
        "advancing while all western leaders do is simply taking some minor measures. Smh"
    )
    assert texts["cry9m2s"].startswith("> large-scale military exercises near Russia\n\nOkay, you tease the bear")
    assert texts["d687zh5"] == 'A hard look at training and tactics" = They will be sent more $$$ for "training"'
    assert texts["d5qvqfw"] == "I guess that's what they mean when say \"I don't see color\""
    assert texts["cv7xm18"] == "Merry sinking Christmas! lol\nThe deer appeared to be sea horses"
    assert texts["cw2nijt"] == "This is one of the best seal documentaries i've seen"  # trailing " \n" in the field
    assert texts["cv4m6ns"] == "The cat is a smartie!"  # the last row kept
    assert not any("\r" in text for text in texts.values())


def test_crlf_line_ends_read_like_the_fixture(tmp_path: Path) -> None:
    # Upstream data/comments.csv ends every line with CRLF, inside quoted fields too; the fixture has LF (as
    # read_file returned it). Both must give the same posts.
    crlf = FIXTURE.read_bytes().replace(b"\n", b"\r\n")
    path = tmp_path / f"{STEM}.csv"
    path.write_bytes(crlf)
    posts = {t.id: [(p.id, p.author, p.parent_id, p.text) for p in t.posts] for t in _load(path).values()}
    assert posts == {t.id: [(p.id, p.author, p.parent_id, p.text) for p in t.posts] for t in _load(FIXTURE).values()}


def test_tsv_reads_like_the_csv(tmp_path: Path) -> None:
    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", lineterminator="\n").writerows(rows)
    tsv = _write(tmp_path, f"{STEM}.tsv", buffer.getvalue())
    from_csv, from_tsv = _load(FIXTURE), _load(tsv)
    assert sorted(from_tsv) == sorted(from_csv)
    for thread_id, thread in from_csv.items():
        assert [(p.id, p.author, p.parent_id, p.text) for p in from_tsv[thread_id].posts] == [
            (p.id, p.author, p.parent_id, p.text) for p in thread.posts
        ]


# --- --columns ------------------------------------------------------------------------------------------------


def test_columns_option_overrides_detection() -> None:
    # "name" holds the fullname (t1_...): ids keep their prefix; titles and authors from other columns.
    options = ImportOptions(columns={"id": "name", "title": "subreddit.display_name_prefixed", "author": "link_author"})
    loaded = load_inputs([FIXTURE], options)
    assert loaded.errors == []
    threads = {t.id: t for t in loaded.threads}
    jury = threads[f"{STEM}-38v84b"]
    assert jury.title == "r/worldnews"
    assert [(p.id, p.author, p.parent_id) for p in jury.posts[1:]] == [
        ("t1_crydani", "iron_flutterby", None),
        ("t1_crya21g", "iron_flutterby", None),
    ]
    # link_author "[deleted]" is an unknown author, not a name.
    assert [(p.id, p.author) for p in threads[f"{STEM}-4uicjv"].posts[1:]] == [("t1_d5quz9y", None)]
    assert not any("Reddit type prefixes" in n.reason for n in loaded.notes)


def test_columns_option_naming_a_missing_column_lists_the_header() -> None:
    loaded = load_inputs([FIXTURE], ImportOptions(columns={"text": "comment_body"}))
    assert loaded.threads == []
    (error,) = loaded.errors
    assert error.path == str(FIXTURE) and error.line == 1
    assert error.reason.startswith("--columns text=comment_body: no such column; the header has: fullname, archived")
    assert "author.name" in error.reason


def test_unknown_field_in_columns_is_an_error() -> None:
    with pytest.raises(InputError, match="unknown field 'body'"):
        parse_bytes(FIXTURE.read_bytes(), str(FIXTURE), ImportOptions(columns={"body": "body"}))


# --- detection --------------------------------------------------------------------------------------------------


def test_detection() -> None:
    head = FIXTURE.read_bytes()[:8192]
    assert detect_bytes(head, ".csv")
    assert detect_bytes(head, ".txt")  # a header naming body, id, parent_id: a CSV whatever its name
    assert detect_bytes(b"comment_id\tuser\ttext\n1\tann\thi\n", "")  # made up
    assert detect_bytes(b"anything", ".tsv")
    # Made-up prose with commas, a JSON document, a mail header: not CSV.
    assert not detect_bytes(b"Well, I think so, and you? Yes, sure, body and soul.\n\nNext, more.", ".txt")
    assert not detect_bytes(b'{"posts": [{"id": "1", "text": "a, b"}]}', ".json")
    assert not detect_bytes(b"From ann@example.org Mon Jan  1 00:00:00 2024\nSubject: a, b\n", "")
    assert not detect_bytes(b"name,email\nann,ann@example.org\n", ".txt")  # no text column


def test_prose_txt_stays_plain_text(tmp_path: Path) -> None:
    prose = _write(tmp_path, "notes.txt", "Made up: first, a paragraph, with commas.\n\nThen, another one.\n")
    (thread,) = _load(prose).values()
    assert [p.text for p in thread.posts] == ["Made up: first, a paragraph, with commas.", "Then, another one."]


# --- bad and unusual inputs (made up) ----------------------------------------------------------------------


def test_missing_text_column_is_an_error_naming_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "scores.csv", "id,author,score\n1,ann,3\n")
    loaded = load_inputs([path])
    (error,) = loaded.errors
    assert error.reason.startswith("no text column (looked for body, text, comment, content, message")
    assert "the header has: id, author, score; name it with --columns text=NAME" in error.reason


def test_malformed_and_empty_rows_are_noted_with_their_lines(tmp_path: Path) -> None:
    text = (
        "id,author,body\n"
        '1,ann,"Made-up opening post,\nover two lines."\n'
        "2,bob,too,many,fields\n"
        "3,cid,\n"
        "\n"
        "4,dee,Made-up reply.\n"
    )
    path = _write(tmp_path, "made-up.csv", text)
    loaded = load_inputs([path])
    assert loaded.errors == []
    (thread,) = loaded.threads
    assert thread.id == "made-up" and thread.title is None
    assert [(p.id, p.author, p.text) for p in thread.posts] == [
        ("1", "ann", "Made-up opening post,\nover two lines."),
        ("4", "dee", "Made-up reply."),
    ]
    assert [n.reason for n in loaded.notes] == [
        "1 row(s) with the wrong number of fields (not 3) left out: line 4",
        "1 row(s) with an empty text column left out (first: line 5)",
    ]


def test_opening_post_in_the_file_takes_the_top_level_replies(tmp_path: Path) -> None:
    text = (
        "id,parent_id,link_id,author,body,title\n"
        "c1,t3_abc,t3_abc,ann,Made-up top-level comment.,Made-up title\n"
        "c2,t1_c1,t3_abc,[deleted],Made-up reply.,Made-up title\n"
        "abc,,t3_abc,op,Made-up submission text.,Made-up title\n"
    )
    path = _write(tmp_path, "sub.csv", text)
    loaded = load_inputs([path])
    assert loaded.errors == []
    (thread,) = loaded.threads
    assert thread.id == "sub-abc" and thread.title == "Made-up title"
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
        ("title", "op", None),
        ("abc", "op", None),
        ("c1", "ann", "abc"),
        ("c2", None, "c1"),
    ]
    # Both prefixed parents name a row once the prefix is off: linked, and said once.
    assert [n.reason for n in loaded.notes] == ["2 parent ids had Reddit type prefixes (t1_/t3_): stripped"]


def test_one_thread_per_file_html_bodies_and_post_id_as_id(tmp_path: Path) -> None:
    text = (
        "post_id,in_reply_to,by,text\n"
        "10,,ann,<p>Made-up <i>HTML</i> body &amp; more.</p><p>Second paragraph.</p>\n"
        "11,10,bob,Made-up reply.\n"
    )
    loaded = load_inputs([_write(tmp_path, "hn-like.csv", text)])
    (thread,) = loaded.threads
    assert thread.id == "hn-like"
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        ("10", "ann", None, "Made-up HTML body & more.\n\nSecond paragraph."),
        ("11", "bob", "10", "Made-up reply."),
    ]
    assert [n.reason for n in loaded.notes] == ["1 row(s) with an HTML body: converted to text"]


def test_post_id_is_the_thread_when_there_is_a_comment_id(tmp_path: Path) -> None:
    text = (
        "comment_id,post_id,parent,user,comment\nc1,p9,,ann,Made up.\nc2,p9,c1,bob,Made up too.\nc3,p8,,cid,And this.\n"
    )
    threads = _load(_write(tmp_path, "yt.csv", text))
    assert sorted(threads) == ["yt-p8", "yt-p9"]
    assert _links(threads["yt-p9"]) == [("c1", None), ("c2", "c1")]


def test_a_deep_reply_chain_is_read_without_recursion(tmp_path: Path) -> None:
    rows = ["id,parent_id,author,body"] + [f"{i},{i - 1 if i else ''},u{i % 7},Made-up reply {i}." for i in range(5000)]
    (thread,) = _load(_write(tmp_path, "deep.csv", "\n".join(rows) + "\n")).values()
    assert len(thread.posts) == 5000
    assert thread.posts[0].parent_id is None and thread.posts[-1].parent_id == "4998"


def test_header_only_and_empty_files_are_errors(tmp_path: Path) -> None:
    header_only = load_inputs([_write(tmp_path, "header.csv", "id,author,body\n")])
    assert [e.reason for e in header_only.errors] == ["no rows: the file has a header line but no comment under it"]
    empty = load_inputs([_write(tmp_path, "empty.csv", "")])
    assert len(empty.errors) == 1 and empty.threads == []


def test_format_is_described() -> None:
    (fmt,) = FORMATS
    assert fmt.name == "csv"
    assert "--columns" in fmt.obtain
    assert fmt.detect_bytes is detect_bytes and fmt.parse_bytes is parse_bytes
