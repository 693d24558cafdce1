"""Mailing lists (mbox, .eml, maildir) through the public path, ``load_inputs``, on real list archives
(tests/fixtures/README.md), plus the text-cleaning functions one by one and the bad inputs.

Strings marked "made up" are written for these tests (bad inputs and the cleaning functions' edge cases);
everything else comes from the fixtures."""

from __future__ import annotations

import asyncio
import re
import zipfile
from pathlib import Path

from pipeline.chunk import chunk_thread
from pipeline.extract_offline import OfflineExtractor
from pipeline.importers import mail
from pipeline.importers.base import Members
from pipeline.importers.mail import (
    author_of,
    clean_subject,
    cut_signature,
    detect_mail,
    detect_maildir,
    drop_attributions,
    reflow,
    replace_patches,
    split_mbox,
    trim_quote_edges,
    unflow,
)
from pipeline.load import Loaded, load_inputs
from pipeline.models import Thread
from pipeline.normalize import normalize_thread
from pipeline.tokenizer import get_tokenizer

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
PONYMAIL = FIXTURES / "users_ponymail_apache_org_2022-01.mbox"  # 6 messages, 2 threads (Apache list archive)
COMMITS = FIXTURES / "commits_ponymail_apache_org_2016-06.mbox"  # a commit mail with its diff, a reply quoting it
CP1252 = FIXTURES / "mod-openoffice-users-de-201612-6891.mbox"  # one windows-1252 reply whose parent is not in it
EML = FIXTURES / "dev.activemq.apache.org-51149.eml"  # one message, no "From " line

# Message-IDs of the fixtures.
SEARCH_ROOT = "CAMHy98POmosR8B2YgZfGN-Tok64Zn9roTG98Yu3gRPQ_CT=Mpg@mail.gmail.com"
SEARCH_JOHN = "CAOqetn9H_th-AuTrLQ9R=NS5MxbiCchSiMon2RFMCHqW9qYTHQ@mail.gmail.com"
SEARCH_DANIEL = "pony-79a78de0-1ff7-464a-a6b9-996ecbd34813-users@ponymail.apache.org"
ATTACH_ROOT = "CAMHy98MMsor+zwiApVbxuj0cgQ4vp-sV_s5eYxyQ6f3WFdRE6g@mail.gmail.com"
ATTACH_SEBB = "CAOGo0VZ1_87YbhSBpVHDk-x0d6ywHQMsoxYW-dvY9Hicq+J_OA@mail.gmail.com"
ATTACH_GRUNO = "f9799d85-063c-a44c-5f7a-25aa0ed06d93@apache.org"
COMMIT = "3c28b203ad154646be3e45d56a24315f@git.apache.org"
COMMIT_REPLY = (
    "pony-f85cc4d67b0b00a9017135e4201b9225b5053fac-bb226b0ffe10c100b2a009d71a3fda7245b9865a@commits.ponymail.apache.org"
)
CP1252_REPLY = "906a12f9-a548-19d3-29d9-d39d9d7bd4c5@gmx.net"
RULE = "-" * 70  # the ASF commit mailer's rule lines


def load(*paths: Path) -> Loaded:
    return load_inputs(list(paths))


def by_id(thread: Thread) -> dict[str, str]:
    return {p.id: p.text for p in thread.posts}


def links(thread: Thread) -> dict[str, str | None]:
    return {p.id: p.parent_id for p in thread.posts}


# --- the real archives ---------------------------------------------------------------------------------


def test_an_apache_list_month_splits_into_its_two_threads_with_authors_and_reply_links() -> None:
    loaded = load(PONYMAIL)
    assert loaded.errors == []
    assert [(t.id, t.title) for t in loaded.threads] == [
        ("mail-CAMHy98POmosR8B2YgZfGN-Tok64Zn9roTG98Yu3gRPQ_CT_Mpg_mail.gmail.com", "External search form"),
        ("mail-CAMHy98MMsor_zwiApVbxuj0cgQ4vp-sV_s5eYxyQ6f3WFdRE6g_mail.gmail.com", "How can I see attachments?"),
    ]
    search, attachments = loaded.threads
    # 6 messages: 3 per thread, each after the title post (the subject, by the opening author).
    assert [(p.id, p.author, p.parent_id) for p in search.posts] == [
        ("title", "Daniel Sahlberg", None),
        (SEARCH_ROOT, "Daniel Sahlberg", None),
        (SEARCH_JOHN, "John D. Ament", SEARCH_ROOT),
        (SEARCH_DANIEL, "Daniel Sahlberg", SEARCH_JOHN),  # its In-Reply-To is folded onto the next line
    ]
    assert [(p.id, p.author, p.parent_id) for p in attachments.posts] == [
        ("title", "Daniel Sahlberg", None),
        (ATTACH_ROOT, "Daniel Sahlberg", None),
        (ATTACH_SEBB, "sebb", ATTACH_ROOT),
        (ATTACH_GRUNO, "Daniel Gruno", ATTACH_ROOT),
    ]
    assert search.source is None and attachments.source is None
    # 4 reply links in the file, all kept; no address anywhere in the authors.
    assert sum(p.parent_id is not None for t in loaded.threads for p in t.posts) == 4
    assert all("@" not in (p.author or "") for t in loaded.threads for p in t.posts)


def test_hard_wrapped_lines_are_reflowed_and_quotes_keep_their_prefix() -> None:
    search, attachments = load(PONYMAIL).threads
    john = by_id(search)[SEARCH_JOHN]
    # Wrapped after "Wayita"" in the file: the sentence is whole on one line now.
    assert (
        'I think a link like this is what you\'re looking for.  Just change "Wayita" with something else the user '
        "is searching for.\n" in john
    )
    # The quoted parent is re-flowed among its own lines and keeps one "> " per line.
    assert (
        "> On behalf of the Subversion community. We have a form on our our site [1] that previously used Google "
        "Sitesearch on the (now defunct) mail-archives.apache.org.\n>\n" in john
    )
    assert "wrote:" not in john and "daniel.l.sahlberg@gmail.com" not in john  # the attribution line is dropped
    # Quoted-printable soft breaks ("redir=\nect") decoded; the nested quote keeps "> >".
    daniel = by_id(search)[SEARCH_DANIEL]
    assert "I've already found that, and I can construct the URL via Javascript and redirect the user.\n" in daniel
    assert "> > [1] https://subversion.apache.org/mailing-lists.html" in daniel
    # format=flowed (Thunderbird): soft line breaks joined, quoted soft breaks too.
    gruno = by_id(attachments)[ATTACH_GRUNO]
    assert (
        "The issue at hand is that the attachment is nameless (does not have a filename specified in the "
        "content-disposition header), so the importer would not have known this was meant to be an attached file "
        "(it thinks it's an alternate body I guess)." in gruno
    )
    assert gruno.startswith(
        "> Hi,\n>\n> (Please keep me in CC since I'm not subscribed to the list!)\n>\n> Apache Infra recently helped"
    )
    for thread in (search, attachments):
        for post in thread.posts:
            assert "<div" not in post.text and "&#39;" not in post.text and "=3D" not in post.text


def test_the_cleaning_is_noted_once_per_file() -> None:
    notes = [n.reason for n in load(PONYMAIL).notes]
    assert notes == ["mail text cleaned: 5 reply attribution line(s) ('On ..., X wrote:') dropped"]


def test_an_inline_patch_is_replaced_and_the_review_replies_to_it() -> None:
    data = COMMITS.read_bytes()
    assert data.count(b"\ndiff --git a/tools/") == 2 and data.count(b"\n> diff --git a/tools/") == 2  # real diffs
    loaded = load(COMMITS)
    assert loaded.errors == []
    (thread,) = loaded.threads
    assert thread.id == "mail-3c28b203ad154646be3e45d56a24315f_git.apache.org"
    # The folded Subject is one line; "[01/11]" says what the message is, so it stays.
    assert thread.title == "[01/11] incubator-ponymail git commit: add a synch ponymail with imap tool"
    assert thread.source is None
    # 2 messages, 1 reply link, both kept; "From: humbedooh@apache.org" has no name: the address's local part.
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
        ("title", "humbedooh", None),
        (COMMIT, "humbedooh", None),
        (COMMIT_REPLY, "Daniel Gruno", COMMIT),
    ]
    texts = by_id(thread)
    commit, reply = texts[COMMIT], texts[COMMIT_REPLY]
    # The diffstat (3 lines and its closing rule) and each file's diff are one line each; the commit message
    # and the mailer's header fields stay, a field per line.
    assert re.findall(r"\[patch not shown: (\d+) lines\]", commit) == ["4", "90", "182"]
    assert re.findall(r"\[patch not shown: (\d+) lines\]", reply) == ["4", "90", "182"]
    assert commit.startswith(
        "Repository: incubator-ponymail\nUpdated Branches:\n  refs/heads/master 3acd303a4 -> 43d70910c\n\n"
        "add a synch ponymail with imap tool\n\nProject: http://git-wip-us.apache.org/repos/asf/incubator-ponymail/repo\n"
    )
    assert (
        "Tree: http://git-wip-us.apache.org/repos/asf/incubator-ponymail/tree/cefa48d0\n"
        "Diff: http://git-wip-us.apache.org/repos/asf/incubator-ponymail/diff/cefa48d0\n" in commit
    )
    assert "Authored: Tue May 3 14:21:49 2016 -0400\nCommitter: Sam Ruby <rubys@intertwingly.net>\n" in commit
    assert commit.endswith(
        f"incubator-ponymail/blob/cefa48d0/tools/sync-imap.py\n{RULE}\n\n[patch not shown: 182 lines]"
    )
    # The review: its own line, then the quoted commit mail with the quoted patches replaced at their depth;
    # the attribution ("On 2016-06-01 14:41, humbedooh@apache.org wrote:") and the quote's trailing ">" dropped.
    assert reply.startswith(
        "Should have squashed this, apologies!\n\n> Repository: incubator-ponymail\n> Updated Branches:\n"
        ">   refs/heads/master 3acd303a4 -> 43d70910c\n>\n> add a synch ponymail with imap tool\n>\n"
    )
    assert f"> {RULE}\n> [patch not shown: 4 lines]\n>\n> http://git-wip-us.apache.org" in reply
    assert reply.endswith(f"tools/sync-imap.py\n> {RULE}\n> [patch not shown: 182 lines]")
    assert "wrote:" not in reply and "humbedooh@apache.org" not in reply
    for text in (commit, reply):
        assert "diff --git" not in text and "@@" not in text and "| 176 +++" not in text
        assert "parse_attachment" not in text and "import argparse" not in text
    assert [n.reason for n in loaded.notes] == [
        "mail text cleaned: 6 inline patch(es) (552 lines) replaced by '[patch not shown: N lines]'; "
        "1 reply attribution line(s) ('On ..., X wrote:') dropped"
    ]


def test_a_windows_1252_reply_is_decoded_and_its_missing_parent_noted() -> None:
    data = CP1252.read_bytes()
    assert b"Matthias M\xfcller" in data and b"Gru\xdf" in data  # 8-bit windows-1252 in the file, not UTF-8
    loaded = load(CP1252)
    assert loaded.errors == []
    (thread,) = loaded.threads
    # The conversation's first message (its first References id) names the thread; the subject gives the title.
    assert thread.id == "mail-0190D133-3E19-4A84-AF6D-254842E90943_gmx.net"
    assert thread.title == "Bildverankerung, Bildbeschriftung"
    assert [(p.id, p.author, p.parent_id) for p in thread.posts] == [
        ("title", None, None),  # the reply did not write the subject: its thread starter is not here
        (CP1252_REPLY, "Josef Latt", None),  # its parent is not in the file: the link is dropped, with a note
    ]
    text = thread.posts[1].text
    assert "\ufffd" not in text
    # Thunderbird's German attribution ("Am 18.12.2016 um 15:01 schrieb Matthias Müller:") is dropped; the quote,
    # its nested quotes (">>>" as "> > >") and the quoted KMail attribution stay.
    assert text.startswith(
        "Hi,\n\n> Hallo Jörg,\n>\n> Am Sonntag, 18. Dezember 2016, 06:46:39 schrieb Jörg Schmidt:\n"
        "> > > From: Matthias Müller [mailto:matth_mueller_hbg@posteo.de]\n"
    )
    assert "schrieb Matthias Müller" not in text
    # Hard-wrapped lines re-flowed, quoted ones at their depth.
    assert (
        "> > Du solltest hier keine Unwahrheiten verbreiten! Wenn Du FUD verbreiten willst lass es lieber bleiben!\n"
        in text
    )
    # The ezmlm footer ("----" then "To unsubscribe, e-mail: ...") is cut.
    assert text.endswith(
        "BTW, wenn Du schon Links betreffs der Zukunft von OO anführst, solltest Du fairerweise auch benennen, was "
        "danach geschehen ist.\n\nGruß"
    )
    assert [n.reason for n in loaded.notes] == [
        "mail text cleaned: 1 list footer(s) or scrubbed-attachment notice(s) cut; "
        "1 reply attribution line(s) ('On ..., X wrote:') dropped",
        f"1 post(s) reply to a post that is not in the thread (first: post '{CP1252_REPLY}' → "
        "'1656299.T3UoDgk8S8@merlin'): their reply links were dropped",
    ]


def test_a_single_eml_message_is_read_and_a_lone_dash_rule_is_no_patch() -> None:
    (thread,) = load(EML).threads
    assert thread.id == "mail-git-pr-262-activemq-artemis_git.apache.org"
    assert [(p.id, p.author) for p in thread.posts] == [
        ("title", "thiagokronig"),
        ("git-pr-262-activemq-artemis@git.apache.org", "thiagokronig"),
    ]
    text = thread.posts[1].text
    assert "Topology serialization is already broken at this point" in text
    assert "[patch not shown" not in text  # "---" followed by prose, no diffstat
    assert text.endswith("contact infrastructure at infrastructure@apache.org or file a JIRA ticket with INFRA.\n---")


def test_crlf_line_ends_read_the_same(tmp_path: Path) -> None:
    crlf = tmp_path / "crlf.mbox"
    crlf.write_bytes(COMMITS.read_bytes().replace(b"\n", b"\r\n"))
    (thread,) = load(crlf).threads
    (original,) = load(COMMITS).threads
    assert [(p.id, p.author, p.parent_id, p.text) for p in thread.posts] == [
        (p.id, p.author, p.parent_id, p.text) for p in original.posts
    ]


def test_a_pipermail_month_named_txt_is_read_as_mail_not_as_plain_text(tmp_path: Path) -> None:
    archive = tmp_path / "2022-January.txt"
    archive.write_bytes(PONYMAIL.read_bytes())
    loaded = load(archive)
    assert [t.title for t in loaded.threads] == ["External search form", "How can I see attachments?"]


def _maildir_from(mbox: Path, root: Path) -> list[bytes]:
    messages = [raw for _line, raw in split_mbox(mbox.read_bytes())]
    for folder in ("cur", "new", "tmp"):
        (root / folder).mkdir(parents=True)
    for index, raw in enumerate(messages):
        folder = "new" if index == len(messages) - 1 else "cur"
        (root / folder / f"16410{index:05d}.M{index}P1.host:2,S").write_bytes(raw)
    (root / "tmp" / "1641099999.M9P9.host").write_bytes(messages[0])  # a delivery not finished
    return messages


def test_a_maildir_folder_is_read_from_cur_and_new(tmp_path: Path) -> None:
    messages = _maildir_from(PONYMAIL, tmp_path / "Maildir")
    assert len(messages) == 6
    loaded = load(tmp_path)  # the parent folder: the maildir inside is found
    assert loaded.errors == []
    assert [len(t.posts) for t in loaded.threads] == [4, 4]
    assert [links(t) for t in loaded.threads] == [links(t) for t in load(PONYMAIL).threads]
    assert [n.reason for n in loaded.notes][-1] == "1 file(s) in tmp/ left out: deliveries not finished"


def test_a_zipped_maildir_is_read_in_place(tmp_path: Path) -> None:
    messages = [raw for _line, raw in split_mbox(COMMITS.read_bytes())]
    archive = tmp_path / "mail.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index, raw in enumerate(messages):
            zipped.writestr(f"Maildir/cur/14691{index}.M1P1.host:2,S", raw)
        zipped.writestr("Maildir/new/", b"")
    (thread,) = load(archive).threads
    assert links(thread) == {"title": None, COMMIT: None, COMMIT_REPLY: COMMIT}


# --- detection -----------------------------------------------------------------------------------------


def test_detection_reads_the_content_whatever_the_suffix() -> None:
    head = PONYMAIL.read_bytes()[:8192]
    assert detect_mail(head, ".mbox") and detect_mail(head, ".txt") and detect_mail(head, "")
    assert detect_mail(EML.read_bytes()[:8192], ".eml")
    assert detect_mail(COMMITS.read_bytes()[:8192], ".mbox")  # "From sender date" with one space before the date
    assert detect_mail(CP1252.read_bytes()[:8192], "")  # 8-bit headers and body, no suffix


def test_detection_does_not_fire_on_prose_csv_or_json(tmp_path: Path) -> None:
    # Made up: prose that starts like an mbox separator or a header, a CSV, a JSON thread.
    prose = b"From my point of view the proposal is sound.\nSubject to review, of course.\n\nSecond paragraph.\n"
    assert not detect_mail(prose, ".txt")
    assert not detect_mail(b"From: the editor\n\nDear all, the meeting moves to Friday.\n", ".txt")
    assert not detect_mail(b"From the board meeting\nDate: Monday\nSubject: budget\n\nWe agreed.\n", ".md")
    assert not detect_mail(b"id,parent_id,author,text\n1,,ann,Hello\n", ".csv")
    assert not detect_mail(b'{"posts": [{"id": "1", "text": "From here on"}]}', ".json")
    notes = tmp_path / "notes.txt"
    notes.write_bytes(prose)
    (thread,) = load(notes).threads
    assert [p.id for p in thread.posts] == ["p1", "p2"]  # read as plain text, a post per paragraph


def test_maildir_detection_wants_cur_or_new_and_nothing_foreign() -> None:
    def top(*names: str) -> Members:
        return Members(list(names), lambda _name: b"")

    assert detect_maildir(top("cur/", "new/", "tmp/"))
    assert detect_maildir(top("cur/", "dovecot-uidlist", "maildirfolder"))
    assert not detect_maildir(top("tmp/"))
    assert not detect_maildir(top("cur/", "notes.txt"))
    assert not detect_maildir(top("channels.json", "users.json", "general/"))  # a Slack export


# --- the cleaning functions ----------------------------------------------------------------------------


def test_cut_signature_cuts_signatures_and_list_footers() -> None:
    # Made up, after common signature shapes and Mailman 2's footer.
    assert cut_signature("Thanks,\nLeon\n-- \nLeon Alrae\nhttp://example.org") == ("Thanks,\nLeon", ["signature"])
    assert cut_signature("ACK\n--\nEric") == ("ACK", ["signature"])
    footer = "Agreed.\n\n_______________________________________________\nqemu-devel mailing list\nhttps://x/listinfo"
    assert cut_signature(footer) == ("Agreed.", ["footer"])
    scrubbed = "See above.\n-------------- next part --------------\nAn HTML attachment was scrubbed...\nURL: <x>"
    assert cut_signature(scrubbed) == ("See above.", ["footer"])
    # A quoted signature is cut to the end of its quote; the reply after it stays.
    quoted = "> Hi All,\n>\n> --\n> Rich Bowen - rbowen@rcbowen.com\n> @rbowen\n\nThank you Rich!"
    assert cut_signature(quoted) == ("> Hi All,\n>\n\nThank you Rich!", ["quoted signature"])
    # A rule not followed by list information is text.
    assert cut_signature("Results:\n----------\n12 passed") == ("Results:\n----------\n12 passed", [])


def test_replace_patches_replaces_diffs_with_one_line() -> None:
    # Made up: a git format-patch tail, a bare "--- a/" diff, a quoted partial diff, a dash rule.
    text = (
        "Fix the loop.\n\nSigned-off-by: A <a@b>\n---\n f.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n"
        "diff --git a/f.c b/f.c\nindex 1..2 100644\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d"
    )
    assert replace_patches(text) == (
        "Fix the loop.\n\nSigned-off-by: A <a@b>\n\n[patch not shown: 13 lines]",
        1,
        13,
    )
    bare = "Try this:\n\n--- old.txt\n+++ new.txt\n@@ -1 +1 @@\n-x\n+y\n\nDoes it help?"
    assert replace_patches(bare) == ("Try this:\n\n[patch not shown: 5 lines]\n\nDoes it help?", 1, 5)
    quoted = "> diff --git a/f.c b/f.c\n> @@ -1,2 +1,2 @@\n> -b\n> +c\n\nLooks good."
    assert replace_patches(quoted) == ("> [patch not shown: 4 lines]\n\nLooks good.", 1, 4)
    prose = "Notes:\n---\nNothing changed here."
    assert replace_patches(prose) == (prose, 0, 0)


def test_drop_attributions_drops_only_the_line_before_a_quote() -> None:
    # Real attribution lines from the fixtures (Pony Mail's, Gmail's folded one, Thunderbird's German one with
    # the name after the verb); the text around them cut short, and "Fine." made up.
    pony = "On 2016-06-01 14:41, humbedooh@apache.org wrote: \n> Repository: incubator-ponymail\n\nFine."
    assert drop_attributions(pony) == ("> Repository: incubator-ponymail\n\nFine.", 1)
    gmail = "John\n\nOn Sun, Jan 2, 2022 at 6:02 AM Daniel Sahlberg <daniel.l.sahlberg@gmail.com>\nwrote:\n\n> Hi,"
    assert drop_attributions(gmail) == ("John\n\n> Hi,", 1)
    german = "Hi,\n\nAm 18.12.2016 um 15:01 schrieb Matthias Müller:\n> Hallo Jörg,"
    assert drop_attributions(german) == ("Hi,\n\n> Hallo Jörg,", 1)
    # A quoted attribution before a deeper quote (the fixture's KMail line, its depths made up).
    nested = "> Am Sonntag, 18. Dezember 2016, 06:46:39 schrieb Jörg Schmidt:\n> > Du solltest hier\n(snip)"
    assert drop_attributions(nested) == ("> > Du solltest hier\n(snip)", 1)
    # Made up: "wrote:" at the end of a longer paragraph, or with no quote after it, stays.
    long = "I read the thread.\nThen I tested it.\nIt failed as\nAlice wrote:\n> it fails"
    assert drop_attributions(long) == (long, 0)
    assert drop_attributions("This is what Bob wrote:\n\nNothing quoted.") == (
        "This is what Bob wrote:\n\nNothing quoted.",
        0,
    )


def test_reflow_joins_wrapped_sentences_and_keeps_structure() -> None:
    # Made up, unless said.
    wrapped = "The print routine had a bug in that it attempted to use a jump\ninstruction as part of a loop."
    assert reflow(wrapped) == (
        "The print routine had a bug in that it attempted to use a jump instruction as part of a loop."
    )
    lists = "Changed in v3:\n\n - Do full struct copy instead of field-by-field\n   copy (Max)\n - Misc typos (Max)"
    assert (
        reflow(lists)
        == "Changed in v3:\n\n - Do full struct copy instead of field-by-field copy (Max)\n - Misc typos (Max)"
    )
    code = "As shown:\n\n    $ qemu-img info demo.luks\n    file format: luks\nis the output."
    assert reflow(code) == code
    trailers = "Reviewed-by: A <a@b>\nCc: B <b@c>"
    assert reflow(trailers) == trailers
    # Real: the ASF commit mailer's header fields, a block of "Field: value" lines, stay a line each.
    fields = (
        "Repository: incubator-ponymail\nUpdated Branches:\n  refs/heads/master 3acd303a4 -> 43d70910c\n\n"
        "Authored: Tue May 3 14:21:49 2016 -0400\nCommitter: Sam Ruby <rubys@intertwingly.net>"
    )
    assert reflow(fields) == fields
    # A single line that starts like a field is prose: its wrapped continuation joins it.
    assert reflow("Note: the importer would not have\nknown this was an attached file.") == (
        "Note: the importer would not have known this was an attached file."
    )
    quoted = "> A possible fix is to sched safe work after exiting the CPU loop, i.e.\n> with the mutex held.\n>\n> > x"
    assert reflow(quoted) == (
        "> A possible fix is to sched safe work after exiting the CPU loop, i.e. with the mutex held.\n>\n> > x"
    )
    # A short line that ends a sentence, where the next word would have fitted: the writer's own break.
    assert reflow("TY!\nGary") == "TY!\nGary"
    assert reflow("[1]\nhttps://example.org/a") == "[1] https://example.org/a"


def test_trim_quote_edges_drops_framing_empty_quote_lines() -> None:
    # In the shape of the fixture's review (its quote ends in two "> " lines); the words made up.
    assert trim_quote_edges("Sorry!\n\n>\n> a\n>\n>\n> b\n>\n>") == "Sorry!\n\n> a\n>\n> b"
    assert trim_quote_edges("> a\n> >\n> > b\n> >\n> c") == "> a\n> > b\n> c"
    assert trim_quote_edges("no quote\n\nat all") == "no quote\n\nat all"


def test_unflow_joins_format_flowed_soft_breaks() -> None:
    # Made up, RFC 3676 cases.
    assert (
        unflow("Apache Infra recently helped to \nbackfill lists.\n")
        == "Apache Infra recently helped to backfill lists.\n"
    )
    assert unflow("> quoted soft \n> break\n>  stuffed") == "> quoted soft break\n>  stuffed"
    assert unflow("del \nsp", delsp=True) == "delsp"
    assert unflow("text \n-- \nsig") == "text \n-- \nsig"  # the signature line always starts a line
    assert unflow("end of quote \nnot quoted") == "end of quote not quoted"
    assert unflow("> depth one \n>> depth two") == "> depth one \n> > depth two"


def test_split_mbox_unescapes_from_and_only_splits_at_separators() -> None:
    # Made up: an mboxrd body line ">From", and a body paragraph starting with "From " (no header after it).
    data = (
        b"From a@b Mon Jan  1 00:00:00 2024\nFrom: A <a@b>\nSubject: one\n\n>From the start.\n>>From a quote.\n\n"
        b"From my side, fine.\n\nFrom c@d Mon Jan  1 01:00:00 2024\nFrom: C <c@d>\nSubject: two\n\nSecond.\n"
    )
    parts = list(split_mbox(data))
    assert [line for line, _raw in parts] == [1, 10]
    assert parts[0][1].endswith(b"\n\nFrom the start.\n>From a quote.\n\nFrom my side, fine.\n\n")


def test_subjects_authors_and_ids() -> None:
    # Real subjects and From headers of the fixtures first.
    commit = "[01/11] incubator-ponymail git commit: add a synch ponymail with imap tool"
    assert clean_subject(f"Re: {commit}") == commit  # "[01/11]" says what the message is: it stays
    assert clean_subject("Re: Bildverankerung, Bildbeschriftung") == "Bildverankerung, Bildbeschriftung"
    assert author_of('"Daniel Gruno"<humbedooh@apache.org>') == "Daniel Gruno"
    assert author_of("humbedooh@apache.org") == "humbedooh"
    assert author_of("Josef Latt <Josef.Latt@gmx.net>") == "Josef Latt"
    # Made up, in the shapes of other lists' headers.
    assert clean_subject("Re: [Qemu-devel] [PATCH] hw/mips: Fix") == "[PATCH] hw/mips: Fix"
    assert clean_subject("RE: AW: [Qemu-block] [PATCH v6 3/4] blockdev") == "[PATCH v6 3/4] blockdev"
    assert clean_subject("[ANNOUNCE] Release 2.0", frozenset({"users"})) == "[ANNOUNCE] Release 2.0"
    assert clean_subject("[Users] Re: help", frozenset({"users"})) == "help"
    assert author_of("Gary D. Gregory <ggregory@apache.org>") == "Gary D. Gregory"
    assert author_of('"wangjh@emrubik.com" <wangjh@emrubik.com>') == "wangjh"
    assert author_of("jmclean@apache.org") == "jmclean"
    assert author_of("alice at example.com (Alice Smith)") == "Alice Smith"  # pipermail's obfuscated From
    assert author_of("=?UTF-8?Q?Roger_Pau_Monn=c3=a9?= <roger.pau@citrix.com>") == "Roger Pau Monné"
    assert author_of("") is None


# --- bad inputs (made up) ------------------------------------------------------------------------------


def _message(msgid: str | None, subject: str, body: str, *, reply_to: str | None = None, date: str = "1") -> str:
    headers = [f"From: Ann <ann@example.org>\nSubject: {subject}\nDate: Mon, {date} Jan 2024 10:00:00 +0000"]
    if msgid:
        headers.append(f"Message-ID: <{msgid}>")
    if reply_to:
        headers.append(f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>")
    return "From ann@example.org Mon Jan  1 10:00:00 2024\n" + "\n".join(headers) + f"\n\n{body}\n\n"


def test_missing_ids_and_threading_headers_are_repaired_and_noted(tmp_path: Path) -> None:
    # Made up: replies with no threading header (some web composers drop them), one with no Message-ID too.
    path = tmp_path / "list.mbox"
    path.write_text(
        _message("root@x", "Budget", "We should cut the budget.")
        + _message("r1@x", "Re: Budget", "No, we should not.", reply_to="root@x", date="2")
        + _message(None, "Re: Budget", "I agree with Ann.", date="3")
        + _message("other@x", "Other topic", "Unrelated.", date="4")
        + _message("r2@x", "Re: Budget", "Me too.", date="5")
    )
    loaded = load(path)
    assert [(t.title, [(p.id, p.parent_id) for p in t.posts]) for t in loaded.threads] == [
        ("Budget", [("title", None), ("root@x", None), ("r1@x", "root@x"), ("m3", None), ("r2@x", None)]),
        ("Other topic", [("title", None), ("other@x", None)]),
    ]
    assert [n.reason for n in loaded.notes] == [
        "1 message(s) have no Message-ID: given ids m<n> by their place in the input (first: m3); "
        "nothing can reply to them",
        "2 reply(ies) with no In-Reply-To or References joined the thread of the same subject; their reply link "
        "is unknown (first: m3)",
    ]


def test_a_chunk_with_no_headers_is_an_error_for_that_message_only(tmp_path: Path) -> None:
    path = tmp_path / "broken.mbox"
    path.write_text(
        _message("a@x", "Hello", "First.") + "From nobody Mon Jan  1 10:00:00 2024\nX-Junk: 1\n\n"
        "garbage without headers\n\n" + _message("b@x", "Re: Hello", "Second.", reply_to="a@x")
    )
    path.write_bytes(path.read_bytes().replace(b"X-Junk: 1\n\n", b"\n"))  # now no header at all
    loaded = load(path)
    assert [str(e) for e in loaded.errors] == []  # no header line after "From ": not a separator, body text
    (thread,) = loaded.threads
    assert [p.id for p in thread.posts] == ["title", "a@x", "b@x"]
    assert "garbage without headers" in thread.posts[1].text

    path.write_text(
        _message("a@x", "Hello", "First.") + "From nobody Mon Jan  1 10:00:00 2024\nX-Junk: 1\n\ngarbage\n\n"
    )
    loaded = load(path)
    assert [str(e) for e in loaded.errors] == [
        f"{path}:9: not a mail message (no From, Date, Subject or Message-ID header): 'X-Junk: 1'"
    ]
    assert [p.id for p in loaded.threads[0].posts] == ["title", "a@x"]


def test_an_unknown_charset_and_a_missing_text_part_are_noted(tmp_path: Path) -> None:
    path = tmp_path / "odd.mbox"
    odd = _message("a@x", "Charset", "caf\xe9 ok").replace(
        "Message-ID:", "Content-Type: text/plain; charset=x-made-up\nMessage-ID:"
    )
    attachment = _message("b@x", "Re: Charset", "AAAA", reply_to="a@x").replace(
        "Message-ID:", "Content-Type: application/octet-stream\nMessage-ID:"
    )
    path.write_bytes((odd + attachment).encode("latin-1"))
    loaded = load(path)
    (thread,) = loaded.threads
    assert [(p.id, p.text) for p in thread.posts] == [("title", "Charset"), ("a@x", "caf\ufffd ok"), ("b@x", "")]
    assert [n.reason for n in loaded.notes] == [
        "1 message(s) have no text part (attachments only?): kept with no text (first: b@x)",
        "1 message(s) declare an unknown charset (x-made-up): read as UTF-8, undecodable bytes replaced",
    ]


def test_a_reply_cycle_and_a_deep_chain_load_without_recursion(tmp_path: Path) -> None:
    cycle = tmp_path / "cycle.mbox"
    cycle.write_text(_message("a@x", "Loop", "A.", reply_to="b@x") + _message("b@x", "Re: Loop", "B.", reply_to="a@x"))
    loaded = load(cycle)
    (thread,) = loaded.threads
    assert sum(p.parent_id is None for p in thread.posts) == 2  # the title and the post where the cycle is cut
    assert any("reply cycle" in n.reason for n in loaded.notes)

    depth = 1500  # past Python's recursion limit (1000): the threading must be iterative
    chain = tmp_path / "chain.mbox"
    chain.write_text(
        "".join(
            _message(f"m{i}@x", "Re: Deep", f"Reply {i}.", reply_to=f"m{i - 1}@x" if i else None) for i in range(depth)
        )
    )
    (thread,) = load(chain).threads
    assert len(thread.posts) == depth + 1
    assert thread.posts[-1].parent_id == f"m{depth - 2}@x"


def test_an_empty_message_file_in_a_maildir_is_an_error_for_that_file(tmp_path: Path) -> None:
    for folder in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / folder).mkdir(parents=True)
    (tmp_path / "Maildir" / "cur" / "1.M1P1.host:2,S").write_bytes(b"")
    loaded = load(tmp_path / "Maildir")
    assert loaded.threads == []
    assert [str(e) for e in loaded.errors] == [
        f"{tmp_path / 'Maildir'}/cur/1.M1P1.host:2,S: an empty message: nothing to read, left out"
    ]


def test_the_offline_extractor_takes_no_claim_from_a_patch_marker() -> None:
    # The real thread (a commit mail and a review quoting it), and its commit post as a message that is only a
    # patch.
    (thread,) = load(COMMITS).threads
    chunks = chunk_thread(normalize_thread(thread), get_tokenizer(None), 6000)
    payload = asyncio.run(OfflineExtractor().extract(chunks[0])).payload
    assert [c["quote"] for c in payload["claims"] if "patch not shown" in c["quote"]] == []
    assert COMMIT_REPLY in {c["post_id"] for c in payload["claims"]}

    patch_only = thread.post(COMMIT)
    assert patch_only is not None
    patch_only.text = "[patch not shown: 276 lines]"  # a message that is only a patch
    chunks = chunk_thread(normalize_thread(thread), get_tokenizer(None), 6000)
    payload = asyncio.run(OfflineExtractor().extract(chunks[0])).payload
    assert [c["quote"] for c in payload["claims"] if "patch not shown" in c["quote"]] == []


def test_formats_are_described() -> None:
    assert [f.name for f in mail.FORMATS] == ["mbox", "maildir"]
    for fmt in mail.FORMATS:
        assert fmt.title and fmt.obtain and fmt.kept
