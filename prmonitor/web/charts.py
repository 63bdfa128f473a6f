"""Pictures of CI drawn by the server as inline SVG: a run's jobs on a time axis (as GitHub's
run graph shows them) and small line charts of a value over runs. Pure functions of plain
data; every piece of text is escaped, and shapes carry a <title> so a pointer (or a screen
reader) gets the exact figures, and a mark beside the colour tells the outcome."""

import datetime

from markupsafe import Markup, escape

from prmonitor.storage.models import from_iso

ROW = 22  # px per job
LABEL = 180  # px for the job names
WIDTH = 720  # the drawing's own units; it scales to its box
BAR = 12

# conclusion (or status while it runs) -> (css class, mark). Colour is never the only signal.
OUTCOMES = {
    "success": ("ok", "✓"),
    "failure": ("bad", "✗"),
    "timed_out": ("bad", "⏱"),
    "startup_failure": ("bad", "✗"),
    "cancelled": ("off", "⊘"),
    "skipped": ("off", "↷"),
    "neutral": ("off", "○"),
    "action_required": ("wait", "!"),
    "in_progress": ("run", "●"),
}
WAITING = ("wait", "…")


def outcome(job):
    """(css class, mark, word) of a job or run: its conclusion, else its status."""
    word = job.get("conclusion") or job.get("status") or "unknown"
    css, mark = OUTCOMES.get(word, WAITING)
    return css, mark, word.replace("_", " ")


def duration(seconds):
    """12 s, 3 min 4 s, 2 h 5 min."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def timeline(jobs, now=None):
    """One run's jobs as bars: queued (light) from created to started, then running or done
    (coloured by outcome) to completed, or to `now` while it runs. Empty when no job has a
    time yet."""
    now = now or datetime.datetime.now(datetime.UTC)
    spans = [_span(job, now) for job in jobs]
    spans = [span for span in spans if span]
    if not spans:
        return Markup("")
    start = min(s["queued"] for s in spans)
    end = max(s["end"] for s in spans)
    scale = (WIDTH - LABEL - 40) / max((end - start).total_seconds(), 1)
    height = ROW * len(spans) + 20
    rows = [_bar(i, s, start, scale) for i, s in enumerate(spans)]
    total = duration((end - start).total_seconds())
    return Markup(
        '<div class="timeline-box">'
        f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="job timeline, {len(spans)} jobs over {total}">'
        f"{''.join(rows)}"
        f'<text class="axis" x="{LABEL}" y="{height - 4}">0</text>'
        f'<text class="axis" x="{WIDTH - 4}" y="{height - 4}" text-anchor="end">{total}</text>'
        "</svg></div>"
    )


def _span(job, now):
    created, started = from_iso(job.get("created_at")), from_iso(job.get("started_at"))
    completed = from_iso(job.get("completed_at"))
    queued = created or started
    if queued is None:
        return None
    running = started or (completed and queued)
    end = completed or now
    return {"job": job, "queued": queued, "started": running, "end": max(end, queued)}


def _bar(row, span, start, scale):
    job = span["job"]
    css, mark, word = outcome(job)
    y = row * ROW + 4
    x0 = LABEL + (span["queued"] - start).total_seconds() * scale
    x1 = LABEL + ((span["started"] or span["end"]) - start).total_seconds() * scale
    x2 = LABEL + (span["end"] - start).total_seconds() * scale
    name = str(job.get("job_name") or "job")
    short = name if len(name) <= 26 else name[:25] + "…"
    waited = (span["started"] or span["end"]) - span["queued"]
    ran = span["end"] - (span["started"] or span["end"])
    tip = f"{name}: {word}, queued {duration(waited.total_seconds())}"
    if span["started"]:
        tip += f", ran {duration(ran.total_seconds())}"
    return (
        f'<g class="{css}"><title>{escape(tip)}</title>'
        f'<text x="0" y="{y + BAR - 1}">{escape(mark)} {escape(short)}</text>'
        f'<rect class="queued" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0):.1f}" '
        f'height="{BAR}"/><rect class="bar" x="{x1:.1f}" y="{y}" '
        f'width="{max(x2 - x1, 2):.1f}" height="{BAR}" rx="2"/>'
        f'<text x="{x2 + 4:.1f}" y="{y + BAR - 1}">{escape(mark)}</text></g>'
    )


def sparkline(points, label, unit="", top=None, width=240, height=48):
    """A small line chart of `points` (oldest first; None for a gap) with its last value,
    for the trends page. `top` fixes the scale (100 for a pass rate)."""
    values = [p for p in points if p is not None]
    if not values:
        return Markup('<span class="muted">no data</span>')
    top = top or max(values) or 1
    step = width / max(len(points) - 1, 1)
    coords = [
        f"{i * step:.1f},{height - 4 - (p / top) * (height - 8):.1f}"
        for i, p in enumerate(points)
        if p is not None
    ]
    last = values[-1]
    low, high = min(values), max(values)
    text = f"{label}: latest {last:g}{unit}, lowest {low:g}{unit}, highest {high:g}{unit}"
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(text)}">'
        f"<title>{escape(text)}</title>"
        f'<polyline points="{" ".join(coords)}"/></svg>'
        f'<span class="spark-value">{last:g}{escape(unit)}</span>'
    )
