"""How the dashboard writes things: relative times with the exact one beside, a PR's status
badge, durations. Jinja filters and globals, registered on the app by the dashboard."""

import datetime

from markupsafe import Markup, escape

from prmonitor.storage.models import from_iso
from prmonitor.web import charts

# The status badge of a listed PR: (css class, words), from its head's latest run attempts.
BADGES = {
    "failing": ("bad", "✗ failing"),
    "running": ("run", "● running"),
    "green": ("ok", "✓ green"),
    "none": ("off", "no runs"),
}


def badge(pr):
    """The status badge of a PR as listing.list_prs gives it (its head's CI)."""
    css, words = BADGES[pr.get("status") or "none"]
    return Markup(f'<span class="badge {css}">{escape(words)}</span>')


def ago(text, now=None):
    """<time> saying "3 min ago", the exact UTC time on hover; empty for no time."""
    when = from_iso(text)
    if when is None:
        return Markup('<span class="muted">–</span>')
    now = now or datetime.datetime.now(datetime.UTC)
    exact = when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return Markup(
        f'<time datetime="{escape(text)}" title="{exact}">{escape(relative(now - when))}</time>'
    )


def relative(delta):
    """A timedelta as people say it: "just now", "5 min ago", "3 h ago", "12 days ago"."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 45:
        return "just now"
    for size, unit in ((86400 * 365, "years"), (86400, "days"), (3600, "h"), (60, "min")):
        if seconds >= size:
            count = seconds // size
            word = unit[:-1] if unit in ("years", "days") and count == 1 else unit
            return f"{count} {word} ago"
    return "just now"


def took(run):
    """How long a run or job took (or has been going), e.g. "3 min 4 s"."""
    start = from_iso(run.get("started_at") or run.get("created_at"))
    if start is None:
        return ""
    end = from_iso(run.get("completed_at")) or datetime.datetime.now(datetime.UTC)
    return charts.duration((end - start).total_seconds())


def seconds(value):
    """A duration in seconds as "3 min 4 s" (empty for none)."""
    return "" if value is None else charts.duration(value)


def init_app(app):
    """The filters and globals the templates use."""
    app.add_template_filter(ago)
    app.add_template_filter(took)
    app.add_template_filter(seconds)
    app.add_template_global(charts.sparkline, "sparkline")
    app.add_template_global(badge)
    app.add_template_global(charts.outcome, "outcome")
    app.add_template_global(charts.timeline, "timeline")
