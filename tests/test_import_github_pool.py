"""GitHub documents spilled by issue (``github.GitHubPool``): made-up documents of one pull request and one
issue spread over four files, read in every order, against hand-checked threads and notes."""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pipeline.importers import github
from pipeline.importers.base import Doc, Imported
from pipeline.load import InputStream

API = "https://api.github.com/repos/acme/widget"
PAGE = "https://github.com/acme/widget"


def _comment(cid: int, login: str, body: str, minute: int, number: int = 5, **more: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
        "body": body,
        "created_at": f"2024-03-01T10:{minute:02d}:00Z",
        "issue_url": f"{API}/issues/{number}",
        "html_url": f"{PAGE}/issues/{number}#issuecomment-{cid}",
        **more,
    }


def _review(cid: int, login: str, body: str, minute: int, reply_to: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": cid,
        "user": {"login": login},
        "body": body,
        "created_at": f"2024-03-01T10:{minute:02d}:00Z",
        "pull_request_url": f"{API}/pulls/5",
        "path": "src/start.py",
        "diff_hunk": "@@ -1,3 +1,4 @@",
    }
    if reply_to is not None:
        item["in_reply_to_id"] = reply_to
    return item


FIRST = _comment(101, "bob", "Which version do you run?", 1, reactions={"total_count": 0})
FILES: dict[str, Any] = {
    # The pull request itself (GET /repos/acme/widget/issues/5): its page URL is /pull/5.
    "issue-5.json": {
        "number": 5,
        "title": "Crash on start",
        "user": {"login": "alice"},
        "body": "It crashes when I start it.",
        "url": f"{API}/issues/5",
        "html_url": f"{PAGE}/pull/5",
        "created_at": "2024-03-01T10:00:00Z",
    },
    "comments-5.json": [
        FIRST,
        _comment(102, "alice", "> Which version do you run?\n\nVersion 2.1, on Linux.", 3),
        _comment(103, "dependabot[bot]", "Bumps widget-core to 2.2.", 2),
        _comment(104, "erin", "   ", 4),
        _comment(302, "erin", "Me too, on Windows.", 8, number=9),
    ],
    "reviews-5.json": [
        _review(201, "carol", "Please rename this function.", 5),
        _review(202, "alice", "Renamed it.", 6, reply_to=201),
    ],
    # Issue 9's only comment (its issue object is not given), bob's comment a second time, and no GitHub item.
    "more.json": [
        _comment(301, "dave", "Same crash here, on macOS.", 7, number=9),
        FIRST,
        {"kind": "something else"},
    ],
}

ISSUE_5 = (
    "github-acme-widget-5",
    "Crash on start",
    f"{PAGE}/pull/5",
    "issue-5.json",
    True,
    [
        ("5", "alice", None, "It crashes when I start it."),
        ("101", "bob", "5", "Which version do you run?"),
        ("102", "alice", "101", "> Which version do you run?\n\nVersion 2.1, on Linux."),  # a quote-reply
        ("201", "carol", "5", "Please rename this function."),
        ("202", "alice", "201", "Renamed it."),
    ],
)


def _issue_9(where: str) -> tuple[Any, ...]:
    return (
        "github-acme-widget-9",
        None,
        f"{PAGE}/issues/9",
        where,  # no opening post: the file that first named the issue
        False,
        [("301", "dave", None, "Same crash here, on macOS."), ("302", "erin", None, "Me too, on Windows.")],
    )


NOTES_5 = [
    "1 comment(s) given more than once ('101'): kept once",
    "1 bot comment(s) left out (dependabot[bot]; first: '103'): not part of the debate",
    "1 comment(s) without text left out (first: '104')",
    "1 comment(s) quote an earlier comment: linked as replies to it",
]
NOTE_9 = (
    "issue body not given (2 comment(s) read without it): pass the issue JSON alongside "
    "(GET /repos/OWNER/REPO/issues/N, or gh issue view N --json title,body,author,comments)"
)
UNKNOWN = ("more.json", "1 item(s) are not GitHub issues or comments (first: item 2): left out", None)


def _seen(found: Imported) -> tuple[list[Any], list[tuple[str, str, str | None]]]:
    threads = [
        (t.id, t.title, t.source, t.where, t.has_opening_post, [(p.id, p.author, p.parent_id, p.text) for p in t.posts])
        for t in found.threads
    ]
    return threads, [(n.where, n.reason, n.thread) for n in found.notes]


def _expected(order: tuple[str, ...]) -> tuple[list[Any], list[tuple[str, str, str | None]]]:
    notes_5 = [("issue-5.json", reason, "github-acme-widget-5") for reason in NOTES_5]
    where_9 = next(name for name in order if name in ("more.json", "comments-5.json"))
    notes_9 = [(where_9, NOTE_9, "github-acme-widget-9")]
    # Threads in the order their issue is first named: more.json names issue 9 before issue 5.
    if order[0] == "more.json":
        return [_issue_9(where_9), ISSUE_5], [UNKNOWN, *notes_9, *notes_5]
    return [ISSUE_5, _issue_9(where_9)], [UNKNOWN, *notes_5, *notes_9]


def _pool_of(order: tuple[str, ...]) -> github.GitHubPool:
    pool = github.GitHubPool()
    for name in order:
        pool.add(Doc(name, json.loads(json.dumps(FILES[name]))))
    return pool


def _built(pool: github.GitHubPool) -> Imported:
    found = Imported()
    for piece in pool.threads():
        found.add(piece)
    return found


def test_files_in_every_order_give_the_hand_checked_threads_and_notes() -> None:
    for order in itertools.permutations(FILES):
        pool = _pool_of(order)
        try:
            assert _seen(_built(pool)) == _expected(order), order
        finally:
            pool.close()
        assert _seen(github.parse([Doc(name, FILES[name]) for name in order])) == _expected(order), order


def test_threads_built_twice_are_the_same() -> None:
    pool = _pool_of(tuple(FILES))
    try:
        first = _built(pool)
        assert _seen(first) == _expected(tuple(FILES))
        assert _seen(_built(pool)) == _seen(first)
        assert _seen(_built(pool)) == _seen(first)
    finally:
        pool.close()


def test_the_loader_hands_github_documents_to_the_pool_and_a_second_pass_rebuilds_them_from_the_spill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert github.FORMATS[0].pool is github.GitHubPool
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    (tmp_path / "scratch").mkdir()
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, value in FILES.items():
        (inputs / name).write_text(json.dumps(value), encoding="utf-8")
    stream = InputStream([inputs], keep_pools=True)

    def one_pass() -> tuple[list[Any], list[str]]:
        threads = [(t.id, [(p.id, p.parent_id) for p in t.posts]) for t in stream]
        return threads, [f"{Path(n.where).name}: {n.reason}" for n in stream.notes]

    first = one_pass()
    # Files are read in name order: comments-5.json names issue 5 first. The loader adds a title post.
    assert first[0] == [
        (
            "github-acme-widget-5",
            [("title", None), ("5", None), ("101", "5"), ("102", "101"), ("201", "5"), ("202", "201")],
        ),
        ("github-acme-widget-9", [("301", None), ("302", None)]),
    ]
    assert len(list((tmp_path / "scratch").iterdir())) == 1  # the spill, kept for the next pass
    shutil.rmtree(inputs)  # not read again: the threads come from the spill
    assert one_pass() == first
    stream.close()
    assert list((tmp_path / "scratch").iterdir()) == []


def test_the_pool_keeps_the_items_on_disk_not_in_memory() -> None:
    body = "A comment long enough to count, repeated to make a page of them weigh something. " * 25
    pages = [
        json.dumps([_comment(page * 100 + n, "bob", body, n % 60, number=page * 100 + n) for n in range(100)])
        for page in range(50)
    ]
    pool = github.GitHubPool()
    try:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for index, page in enumerate(pages):
            pool.add(Doc(f"page-{index}.json", json.loads(page)))  # read as the loader reads a file
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        # 5,000 comments of 2 KB: 10 MB of text, of which the pool holds none (SQLite's cache is not traced).
        assert held < 1_000_000, held
        assert sum(len(piece.threads) for piece in pool.threads()) == 5000
    finally:
        tracemalloc.stop()
        pool.close()
