"""A report as a list of blocks, rendered twice: Markdown (README.md, for a code host) and
one self-contained HTML page (figures embedded as base64 PNG, inline CSS, no script, no
network).

Text in :class:`Para`, :class:`Bullets` and table cells is a small Markdown subset:
```code```, ``**bold**`` and ``[text](#anchor)``. Long tables are collapsed into a
``<details>`` element in both renderings, so a 200-cell study stays readable.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from typing import Union


@dataclass
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    collapse_after: int = 15
    """Tables with more rows than this are collapsed (the caption becomes the summary)."""
    open: bool = False
    """Show a collapsed table expanded."""
    anchor: str = ""
    numeric: list[bool] | None = None
    """Right-align these columns (default: guessed from the cells)."""


@dataclass
class Figure:
    name: str
    """File stem under ``figures/`` (``<name>.png``, and ``<name>.svg`` if ``svg``)."""
    caption: str
    png: bytes
    width: int = 0
    """Display width in CSS pixels (0: the figure's natural width, at most the page width)."""
    svg: bool = False
    """An SVG copy is written beside the PNG (the Markdown links it)."""


@dataclass
class Details:
    summary: str
    blocks: list["Block"] = field(default_factory=list)
    open: bool = False


Block = Union[Heading, Para, Bullets, Table, Figure, Details]


@dataclass
class Document:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


# ------------------------------------------------------------------------------------------
# Inline text
# ------------------------------------------------------------------------------------------

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\((#[\w-]+)\)")


def inline_html(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        if m.group(1) is not None:
            out.append(f"<code>{html.escape(m.group(1), quote=False)}</code>")
        elif m.group(2) is not None:
            out.append(f"<strong>{html.escape(m.group(2), quote=False)}</strong>")
        else:
            out.append(f'<a href="{html.escape(m.group(4))}">{html.escape(m.group(3), quote=False)}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def inline_md(text: str, *, in_table: bool = False) -> str:
    """Markdown text with ``<``/``>`` outside code spans escaped (a code host would read them
    as HTML tags) and, in table cells, ``|`` escaped."""
    parts = re.split(r"(`[^`]*`)", text)
    for i, part in enumerate(parts):
        if not (part.startswith("`") and part.endswith("`") and len(part) > 1):
            parts[i] = part.replace("<", "&lt;").replace(">", "&gt;")
    text = "".join(parts)
    if in_table:
        text = text.replace("|", "\\|").replace("\n", " ")
    return text


_NUMERIC = re.compile(r"^[-+−]?[\d,.]+(e[-+]?\d+)?\s*(±.*)?(\(.*\))?%?$|^—$")


def _numeric_columns(t: Table) -> list[bool]:
    if t.numeric is not None:
        return t.numeric
    cols = []
    for j in range(len(t.columns)):
        vals = [r[j] for r in t.rows if j < len(r) and r[j] not in ("", "—")]
        cols.append(bool(vals) and all(_NUMERIC.match(v.strip()) for v in vals))
    return cols


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ------------------------------------------------------------------------------------------
# Markdown
# ------------------------------------------------------------------------------------------


def to_markdown(doc: Document, figure_dir: str = "figures") -> str:
    lines = [f"# {inline_md(doc.title)}", ""]
    for b in doc.blocks:
        lines += _md_block(b, figure_dir)
    return "\n".join(lines).rstrip() + "\n"


def _md_table(t: Table) -> list[str]:
    num = _numeric_columns(t)
    out = ["| " + " | ".join(inline_md(c, in_table=True) for c in t.columns) + " |",
           "|" + "|".join("---:" if n else "---" for n in num) + "|"]
    for r in t.rows:
        cells = [inline_md(c, in_table=True) for c in r] + [""] * (len(t.columns) - len(r))
        out.append("| " + " | ".join(cells) + " |")
    return out


def _md_block(b: Block, figure_dir: str) -> list[str]:
    if isinstance(b, Heading):
        anchor = f'<a id="{b.anchor}"></a>\n' if b.anchor else ""
        return [f"{anchor}{'#' * b.level} {inline_md(b.text)}", ""]
    if isinstance(b, Para):
        return [inline_md(b.text), ""]
    if isinstance(b, Bullets):
        return [f"- {inline_md(i)}" for i in b.items] + [""]
    if isinstance(b, Table):
        body = _md_table(t=b)
        if len(b.rows) > b.collapse_after:
            summary = html.escape(b.caption or "table", quote=False) + f" ({len(b.rows)} rows)"
            return [f"<details{' open' if b.open else ''}><summary>{summary}</summary>", "", *body, "", "</details>", ""]
        cap = [f"*{inline_md(b.caption)}*", ""] if b.caption else []
        return [*cap, *body, ""]
    if isinstance(b, Figure):
        link = f" ([SVG]({figure_dir}/{b.name}.svg))" if b.svg else ""
        return [f"![{inline_md(b.caption)}]({figure_dir}/{b.name}.png)", "", f"*{inline_md(b.caption)}*{link}", ""]
    if isinstance(b, Details):
        inner: list[str] = []
        for x in b.blocks:
            inner += _md_block(x, figure_dir)
        summary = html.escape(b.summary, quote=False)
        return [f"<details{' open' if b.open else ''}><summary>{summary}</summary>", "", *inner, "</details>", ""]
    raise TypeError(type(b))


# ------------------------------------------------------------------------------------------
# HTML
# ------------------------------------------------------------------------------------------

CSS = """
:root { color-scheme: light; }
body { font: 15px/1.45 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 12px 24px 48px; color: #1f2328; background: #fff; }
h1 { font-size: 1.55em; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #d0d7de; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1.1em; margin-top: 1.3em; }
p, ul { margin: 0.45em 0; }
code { background: #f3f4f6; padding: 0 0.25em; border-radius: 4px; font-size: 0.92em; }
table { border-collapse: collapse; margin: 0.4em 0 0.9em; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr:nth-child(even) td { background: #fafbfc; }
caption { caption-side: top; text-align: left; font-style: italic; color: #57606a; padding-bottom: 2px; }
details { margin: 0.4em 0 0.8em; }
summary { cursor: pointer; color: #0969da; }
figure { margin: 0.6em 0 1.2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 0.9em; }
nav { font-size: 0.9em; color: #57606a; margin-bottom: 0.4em; }
nav a { margin-right: 0.8em; }
.scroll { overflow-x: auto; }
#verdict table { font-size: 0.95em; }
"""


def to_html(doc: Document) -> str:
    body = "\n".join(_html_block(b) for b in doc.blocks)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        f"<title>{html.escape(doc.title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<h1>{inline_html(doc.title)}</h1>\n{body}\n</body>\n</html>\n"
    )


def _html_table(t: Table) -> str:
    num = _numeric_columns(t)
    head = "".join(f"<th{' class=num' if n else ''}>{inline_html(c)}</th>" for c, n in zip(t.columns, num))
    rows = []
    for r in t.rows:
        cells = list(r) + [""] * (len(t.columns) - len(r))
        rows.append("<tr>" + "".join(f"<td{' class=num' if n else ''}>{inline_html(c)}</td>"
                                     for c, n in zip(cells, num)) + "</tr>")
    collapsed = len(t.rows) > t.collapse_after
    cap = f"<caption>{inline_html(t.caption)}</caption>" if t.caption and not collapsed else ""
    table = f"<div class=scroll><table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    if collapsed:
        summary = inline_html(t.caption or "table") + f" ({len(t.rows)} rows)"
        table = f"<details{' open' if t.open else ''}><summary>{summary}</summary>{table}</details>"
    return table


def _html_block(b: Block) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{html.escape(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{inline_html(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        return f"<p>{inline_html(b.text)}</p>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        out = _html_table(b)
        return f'<div id="{html.escape(b.anchor)}">{out}</div>' if b.anchor else out
    if isinstance(b, Figure):
        data = base64.b64encode(b.png).decode("ascii")
        style = f' style="width:{b.width}px"' if b.width else ""
        return (f'<figure id="fig-{html.escape(b.name)}"><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(b.caption)}"{style}><figcaption>{inline_html(b.caption)}</figcaption></figure>')
    if isinstance(b, Details):
        inner = "\n".join(_html_block(x) for x in b.blocks)
        return f"<details{' open' if b.open else ''}><summary>{inline_html(b.summary)}</summary>\n{inner}\n</details>"
    raise TypeError(type(b))
