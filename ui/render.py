"""HTML for the sources panel: each cited passage with its supporting sentences highlighted."""

from collections.abc import Sequence
from html import escape

from qa import Check, Source, highlight_segments

CSS = """
.qa-source {border:1px solid var(--border-color-primary); border-radius:8px; padding:8px 10px; margin:0 0 10px 0;}
.qa-source header {font-weight:600; margin-bottom:4px;}
.qa-source .qa-score {font-weight:400; opacity:.7; margin-left:6px;}
.qa-source p {margin:0; white-space:pre-wrap; line-height:1.45;}
.qa-source mark {background:#ffe58a; color:#111; padding:0 1px; border-radius:2px;}
.qa-refused {border-left:4px solid #d9822b; padding:6px 10px; background:rgba(217,130,43,.08);}
.qa-muted {opacity:.7;}
.qa-check {font-size:.9em; margin:0 0 8px 0;}
.qa-check.failed {color:#b45309;}
.qa-check summary {cursor:pointer;}
"""


def highlighted(source: Source) -> str:
    """The passage text with its highlight spans wrapped in <mark>."""
    pieces = highlight_segments(source.text, source.start, source.highlights)
    return "".join(f"<mark>{escape(t)}</mark>" if marked else escape(t) for t, marked in pieces)


def sources_html(sources: Sequence[Source]) -> str:
    blocks = [
        f'<div class="qa-source" id="source-{s.n}"><header>[{s.n}] {escape(s.document)}'
        f'{f" · p. {s.page}" if s.page else ""}'
        f'<span class="qa-score">chars {s.start}–{s.end} · relevance {s.score:.2f}</span></header>'
        f"<p>{highlighted(s)}</p></div>"
        for s in sources
    ]
    return "".join(blocks) or '<p class="qa-muted">No sources cited.</p>'


def searching_html(passages: Sequence[Source], writing: bool = True) -> str:
    """What retrieval found, before anything is cited: shown while the model writes, or when it failed."""
    if not passages:
        return '<p class="qa-muted">Nothing found in the collection.</p>'
    items = "".join(
        f"<li>{escape(p.document)} · chars {p.start}–{p.end} · relevance {p.score:.2f}</li>" for p in passages
    )
    doing = "; writing the answer…" if writing else ":"
    return f'<p class="qa-muted">Found {len(passages)} passages{doing}</p><ul>{items}</ul>'


def refused_html(passages: Sequence[Source]) -> str:
    docs = ", ".join(sorted({escape(p.document) for p in passages})) or "nothing (the collection is empty)"
    best = f" The closest passage scored {passages[0].score:.2f}." if passages else ""
    return (
        f'<div class="qa-refused">Not in the documents. Searched {len(passages)} passages of: {docs}.{best}</div>'
    )


CHECKING = "\n\n*(being checked against the passages…)*"  # no emoji: the default fonts may lack them


def check_html(check: Check | None) -> str:
    """One line above the sources: the answerhood check's verdict in words; its scores one click away."""
    if check is None:
        return ""
    scores = ", ".join(f"{k} {v:.2f}" for k, v in check.scores.items())
    mark = "✓" if check.passed else "✗"
    return (
        f'<details class="qa-check{"" if check.passed else " failed"}"><summary>{mark} {escape(check.verdict)}</summary>'
        f'<span class="qa-muted">{escape(check.reason)}; {escape(scores)}</span></details>'
    )
