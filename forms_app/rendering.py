"""Display-only field content: html is sanitised with nh3; markdown gets a small, safe subset
(headings, emphasis, code, links, lists, paragraphs), then the same sanitiser."""

from __future__ import annotations

import html
import re

_LINK = re.compile(r"\[([^\]]+)\]\(((?:https?://|mailto:|/)[^)\s]+)\)")


def sanitize_html(content: str) -> str:
    import nh3  # loaded on first use, not with the URLconf (docs/performance.md, Memory)

    return nh3.clean(content or "", link_rel="noopener noreferrer")


def _inline(text: str) -> str:
    text = html.escape(text, quote=True)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    text = re.sub(r"(?<![*\w])\*([^*]+)\*(?!\w)", r"<em>\1</em>", text)
    return _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', text)


def render_markdown(content: str) -> str:
    out: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            out.append("<p>" + " ".join(paragraph) + "</p>")
            paragraph.clear()
        if items:
            out.append("<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>")
            items.clear()

    for raw in (content or "").splitlines():
        line = raw.strip()
        heading = re.match(r"^(#{1,6})\s+(.*)$", line)
        bullet = re.match(r"^[-*]\s+(.*)$", line)
        if not line:
            flush()
        elif heading:
            flush()
            level = len(heading.group(1))
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif bullet:
            if paragraph:
                flush()
            items.append(_inline(bullet.group(1)))
        else:
            if items:
                flush()
            paragraph.append(_inline(line))
    flush()
    return sanitize_html("\n".join(out))


def render_display_field(field: dict) -> str:
    if field.get("type") == "html":
        return sanitize_html(field.get("content", ""))
    return render_markdown(field.get("content", ""))
