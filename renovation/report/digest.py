"""The morning digest as one self-contained HTML page (``renovation digest --html``), fit to be mailed
by cron: a section per kind of work, each a table or "nothing"; the same words as the terminal's.
Nothing is fetched when the page is opened: no external CSS, script, font or image."""

from __future__ import annotations

from datetime import date
from typing import Any, TypedDict

from renovation.report.html import STYLE, escape, table
from renovation.report.words import text

#: The digest's sections, in the order they are shown (``renovation.services.digest`` fills them).
SECTIONS = ("overdue_findings", "no_morning_round", "pending_samples", "awaiting_resample", "open_tickets",
            "behind_plan", "unscored")


class Digest(TypedDict):
    date: date
    period: str  # the horse-race period of ``unscored``: the last month that ended
    thresholds: dict[str, Any]
    sections: dict[str, list[dict[str, Any]]]


def section_title(name: str, digest: Digest, lang: str) -> str:
    """A section's title, with its threshold or period."""
    thresholds = digest["thresholds"]
    return text(name, lang, by=thresholds["morning_round_by"], days=(
        thresholds["ticket_open_days"] if name == "open_tickets" else thresholds["sample_pending_days"]),
        period=digest["period"])


def meta(digest: Digest, lang: str) -> str:
    shown = ", ".join(f"{key} {value}" for key, value in digest["thresholds"].items())
    return text("digest_meta", lang, date=digest["date"].isoformat(), period=digest["period"], thresholds=shown)


def render(digest: Digest, lang: str) -> str:
    day = digest["date"].isoformat()
    title = text("digest", lang, date=day)
    parts = [f"<header><h1>{escape(title)}</h1><p class=\"meta\">{escape(meta(digest, lang))}</p></header>"]
    for name in SECTIONS:
        rows: list[dict[str, Any]] = digest["sections"][name]
        heading = f"{section_title(name, digest, lang)} ({len(rows)})"
        parts.append(f'<section id="{name.replace("_", "-")}"><h2>{escape(heading)}</h2>')
        if rows:
            parts.append(table(f"{name.replace('_', '-')}-table", rows, list(rows[0]), lang))
        else:
            parts.append(f'<p class="none">{escape(text("nothing", lang))}</p>')
        parts.append("</section>")
    parts.append(f"<footer>{escape(text('digest_footer', lang))}</footer>")
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(parts) + "\n</body>\n</html>\n"
    )
