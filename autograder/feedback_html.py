"""``feedback.html``: the student's feedback as one self-contained page, readable offline.

The page is ``feedback.md`` (what the engine wrote) rendered by markdown-it-py, a maintained
CommonMark renderer, plus the late-work note when there is one.  A student writes part of that
text (their exception messages, their file names), so the renderer is configured to produce no
markup of the student's making:

* raw HTML is off (``html=False``): ``<script>`` or ``<img onerror=...>`` in a message is shown as
  text, escaped by the renderer;
* links, autolinks and images are off: nothing in the page points elsewhere or loads anything, and a
  message cannot dress up a link;
* a Content-Security-Policy in the page forbids scripts, remote loads and forms even if a future
  change let markup through (the page needs only its own inline style).

Every string of student origin was cleaned of control characters when feedback.md was made
(:func:`autograder.textsafe.clean`); the late note is cleaned here.
"""
from __future__ import annotations

import html

from markdown_it import MarkdownIt

from autograder.textsafe import clean

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; form-action 'none'; base-uri 'none'"
STYLE = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 52em; margin: 2em auto;
       padding: 0 1em; color: #1d1d1f; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
blockquote { margin: .5em 0; padding: .4em .8em; background: #f6f6f6; border-left: 4px solid #c33;
             font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; white-space: pre-wrap; }
blockquote p { margin: 0; }
.late { padding: .6em .8em; background: #fff4e5; border-left: 4px solid #e69500; }
"""


def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).disable(["image", "link", "autolink"])


def render(markdown_text: str, title: str, late_note: str = "") -> str:
    """The page for ``markdown_text`` (feedback.md's text), with ``late_note`` (plain text) after the score."""
    body = _renderer().render(markdown_text)
    if late_note:
        note = f'<p class="late"><strong>Late work:</strong> {html.escape(clean(late_note, one_line=True))}</p>\n'
        end = body.find("</p>")          # after the score line (the first paragraph)
        body = body[:end + 4] + "\n" + note + body[end + 4:] if end >= 0 else note + body
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{html.escape(clean(title, one_line=True))}</title>\n<style>{STYLE}</style>\n</head>\n"
            f"<body>\n{body}</body>\n</html>\n")
