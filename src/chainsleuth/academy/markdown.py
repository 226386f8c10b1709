"""A small, safe Markdown renderer for course modules.

Why not a library: none is installed in the project's environment and course text is written by us, so a
documented subset is enough and keeps the dependency list short. Safety matters more than coverage: every piece
of text is HTML-escaped *before* inline markup is applied, and links are only kept for ``http(s)://``, ``/``
and ``#`` targets, so a module (or a future instructor-written one) can never inject script into a page.

Supported subset (documented in ``docs/academy.md``):

* ``#``, ``##``, ``###`` headings; paragraphs separated by blank lines; ``---`` horizontal rules;
* ``-``/``*`` bullet lists and ``1.`` numbered lists (one level);
* fenced code blocks (three backticks), ``> `` block quotes;
* pipe tables (``| a | b |`` with a ``|---|---|`` separator line);
* inline ``code``, ``**bold**``, ``*italic*`` and ``[text](url)`` links.
"""

from __future__ import annotations

import html
import re

_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)(.+?)(?<!\s)\*(?![*\w])")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_SAFE_URL = re.compile(r"^(https?://|/|#)[^\"'<>\s]*$")
_ORDERED = re.compile(r"^\d+\.\s+")
_TABLE_SEPARATOR = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")


def _inline(text: str) -> str:
    """Escape ``text`` and apply inline markup; code spans are protected from further markup."""
    codes: list[str] = []

    def keep_code(match: re.Match[str]) -> str:
        codes.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _INLINE_CODE.sub(keep_code, text)
    out = html.escape(out, quote=True)

    def link(match: re.Match[str]) -> str:
        label, url = match.group(1), html.unescape(match.group(2))
        if not _SAFE_URL.match(url):
            return label
        return f'<a href="{html.escape(url, quote=True)}">{label}</a>'

    out = _LINK.sub(link, out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    out = _ITALIC.sub(r"<em>\1</em>", out)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], out)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table(rows: list[str]) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in _cells(rows[0]))
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows[2:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_markdown(source: str) -> str:
    """Render the supported Markdown subset of ``source`` as HTML (safe to embed in a page)."""
    lines = source.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            flush()
            block: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            out.append(f"<pre><code>{html.escape(chr(10).join(block))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
        elif heading := re.match(r"^(#{1,3})\s+(.*)$", stripped):
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif stripped == "---":
            flush()
            out.append("<hr>")
        elif stripped.startswith("|") and i + 1 < len(lines) and _TABLE_SEPARATOR.match(lines[i + 1].strip()):
            flush()
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(lines[i])
                i += 1
            out.append(_table(rows))
            continue
        elif stripped.startswith("> "):
            flush()
            quote = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quote.append(lines[i].strip()[1:].strip())
                i += 1
            out.append(f"<blockquote><p>{_inline(' '.join(quote))}</p></blockquote>")
            continue
        elif stripped.startswith(("- ", "* ")) or _ORDERED.match(stripped):
            flush()
            ordered = bool(_ORDERED.match(stripped))
            items: list[str] = []
            while i < len(lines):
                item = lines[i].strip()
                if ordered and _ORDERED.match(item):
                    items.append(_ORDERED.sub("", item, count=1))
                elif not ordered and item.startswith(("- ", "* ")):
                    items.append(item[2:])
                elif item and items and lines[i].startswith((" ", "\t")):
                    items[-1] += " " + item  # a wrapped continuation line of the previous item
                else:
                    break
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + f"</{tag}>")
            continue
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(out)
