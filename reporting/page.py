"""Write ``index.html`` (images inlined as base64, no external files) and ``summary.json``."""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path

from atomicfile import write_json, write_text

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f0f0f0} td.l,th.l{text-align:left}
img{max-width:100%;border:1px solid #ddd;margin:4px 0}
code{background:#f5f5f5;padding:0 3px}
.bad{color:#a00}
"""


def _cell(value: object) -> str:
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif value is None:
        text = "-"
    else:
        text = html.escape(str(value))
    return text


def table(header: list[str], rows: Iterable[list[object]]) -> str:
    """An HTML table; the first column is left-aligned."""
    head = "".join(f'<th class="{"l" if i == 0 else ""}">{html.escape(h)}</th>'
                   for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i == 0 else ""}">{_cell(v)}</td>'
                         for i, v in enumerate(row)) + "</tr>"
        for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def image(path: Path, caption: str = "", width: int | None = None) -> str:
    """An ``<img>`` with the PNG inlined, or a note when the file is missing."""
    if not path.is_file():
        return f'<p class="bad">missing picture: {html.escape(str(path))}</p>'
    data = base64.b64encode(path.read_bytes()).decode()
    size = f' width="{width}"' if width else ""
    cap = f"<br><small>{html.escape(caption)}</small>" if caption else ""
    alt = html.escape(caption)
    return f'<div><img src="data:image/png;base64,{data}"{size} alt="{alt}">{cap}</div>'


def write_report(report_dir: Path, title: str, sections: list[tuple[str, str]],
                 summary: dict) -> Path:
    """Write ``report_dir/index.html`` from (heading, html) sections and ``summary.json``.

    Parameters
    ----------
    report_dir : folder to write into (created)
    title : page title
    sections : (heading, inner HTML) pairs, in page order
    summary : the machine-readable figures, written as ``summary.json``

    Returns
    -------
    Path of ``index.html``.
    """
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{content}\n" for h, content in sections)
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{body}</body></html>\n")
    write_json(report_dir / "summary.json", summary, default=str)
    write_text(report_dir / "index.html", page)
    return report_dir / "index.html"
