"""HTML bodies → clean post text (Hacker News, Discourse, ForumMagnum, email, Slack-free formats).

Input: an HTML fragment as a platform stores it. Output: plain text in light Markdown: paragraphs as
blank-line separated blocks, quotes as ``> `` lines (so normalize sees them as quoted parent lines), code
as fenced blocks, list items as ``- `` lines, links and emphasis as their text alone, entities decoded.
No tag survives. Parsing uses Python's own ``html.parser`` through BeautifulSoup and markdownify: no
network, no remote entities, images or stylesheets are ever fetched. Failure modes: none; an HTML nested
too deep for the recursive converter falls back to the document's text with block breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Any

# BeautifulSoup and markdownify are imported on first use: together a fifth of a second, which every command,
# and every run whose inputs hold no HTML, would otherwise pay at start.
_BLANK_RUNS = re.compile(r"\n{3,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
# Inline markup whose text is kept and whose markers would only be noise in a quote.
_STRIP_INLINE = ["a", "b", "strong", "i", "em", "u", "span", "font", "small", "big", "sub", "sup", "abbr"]
_EMOJI_CODE = re.compile(r":[\w+-]{1,40}:")


@cache
def _plain_converter() -> type[Any]:
    from markdownify import MarkdownConverter

    class PlainConverter(MarkdownConverter):
        """markdownify with a line break as a newline (not two trailing spaces), an emoji image as its
        shortcode (":smile:"), other images as nothing, and nothing escaped."""

        def convert_br(self, el: Any, text: str, parent_tags: Any) -> str:
            return "\n"

        def convert_img(self, el: Any, text: str, parent_tags: Any) -> str:
            alt = str(el.get("alt") or "")
            return alt if _EMOJI_CODE.fullmatch(alt) else ""

    return PlainConverter


_CONVERTER_OPTIONS: dict[str, Any] = {
    "strip": _STRIP_INLINE,
    "escape_asterisks": False,
    "escape_underscores": False,
    "escape_misc": False,
    "heading_style": "ATX",
    "bullets": "-",
}


def html_to_text(html: str, drop: Iterable[str] = ()) -> str:
    """``html`` as clean text; ``drop`` lists CSS selectors removed first (link previews, quote titles)."""
    if "<" not in html and "&" not in html:
        return html.strip()
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString

    soup = BeautifulSoup(html, "html.parser")
    for selector in drop:
        for element in soup.select(selector):
            element.decompose()
    for element in soup(["script", "style", "head", "title", "template"]):
        element.decompose()
    for line_break in soup("br"):
        # The source's own newline after <br> is layout, not a second line break.
        following = line_break.next_sibling
        if isinstance(following, NavigableString) and following.startswith(("\n", "\r\n")):
            following.replace_with(following.lstrip("\r\n"))
    try:
        text = _plain_converter()(**_CONVERTER_OPTIONS).convert_soup(soup)
    except RecursionError:
        text = soup.get_text("\n")
    text = _TRAILING_SPACE.sub("\n", text.replace("\r\n", "\n").replace("\u00a0", " "))
    return _BLANK_RUNS.sub("\n\n", text).strip()
