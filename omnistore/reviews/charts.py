"""Geometry for the manager's server-rendered SVG charts (templates/manager/_bars.html draws them).

Only numbers here: the templates turn them into <rect>/<text> with classes (colours live in app.css, so
the strict CSP needs no inline styles)."""

from dataclasses import dataclass, field

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 34


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    href: str = ""


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    bars: list = field(default_factory=list)
    ticks: list = field(default_factory=list)  # [(y, label)]
    labels: list = field(default_factory=list)  # [(x, label)]
    empty: bool = True


def _nice_max(value):
    if value <= 4:
        return 4
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000):
        if value <= step * 4:
            return step * 4
    return value


def _ticks(top):
    return [(HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * i / 4, str(top * i // 4)) for i in range(5)]


def stacked_days(daily, statuses, titles, day_label, *, every=None):
    """Stacked bars per day: `daily` is [(day, {status: n})]; titles[status] names a series."""
    chart = Chart()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((sum(counts.values()) for _day, counts in daily), default=0))
    slot = plot_w / max(1, len(daily))
    every = every or max(1, round(len(daily) / 8))
    for index, (day, counts) in enumerate(daily):
        x = LEFT + index * slot + slot * 0.15
        base = HEIGHT - BOTTOM
        for status in statuses:
            n = counts.get(status, 0)
            if not n:
                continue
            h = plot_h * n / top
            base -= h
            chart.bars.append(
                Bar(
                    round(x, 1),
                    round(base, 1),
                    round(slot * 0.7, 1),
                    round(h, 1),
                    f"s-{status}",
                    f"{day_label(day)} · {titles[status]}: {n}",
                )
            )
            chart.empty = False
        if index % every == 0:
            chart.labels.append((round(LEFT + index * slot + slot / 2, 1), day_label(day)))
    chart.ticks = _ticks(top)
    return chart


def histogram(buckets, bucket_label, title):
    """Bars per duration bucket: `buckets` is [(upper hours or None, n)]."""
    chart = Chart()
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((n for _upper, n in buckets), default=0))
    slot = plot_w / max(1, len(buckets))
    previous = 0
    for index, (upper, n) in enumerate(buckets):
        label = bucket_label(previous, upper)
        previous = upper
        h = plot_h * n / top
        chart.bars.append(
            Bar(
                round(LEFT + index * slot + slot * 0.1, 1),
                round(HEIGHT - BOTTOM - h, 1),
                round(slot * 0.8, 1),
                round(h, 1),
                "s-bar",
                f"{title} {label}: {n}",
            )
        )
        chart.labels.append((round(LEFT + index * slot + slot / 2, 1), label))
        chart.empty = chart.empty and not n
    chart.ticks = _ticks(top)
    return chart


@dataclass
class Heat:
    cells: list  # [(x, y, level 0–5, title)]
    rows: list  # [(y, weekday label)]
    columns: list  # [(x, hour label)]
    width: int = 0
    height: int = 0
    cell: int = 26
    empty: bool = True


def heat_map(heat, weekday_names, title):
    """Weekday × hour cells; the level (0–5) picks the colour class."""
    cell, left, top = 26, 44, 22
    peak = max((max(row) for row in heat), default=0)
    cells = []
    for day, row in enumerate(heat):
        for hour, n in enumerate(row):
            level = 0 if not n else 1 + min(4, int(4 * n / peak)) if peak else 0
            label = f"{weekday_names[day]} {hour:02d}:00 · {title}: {n}"
            cells.append((left + hour * cell, top + day * cell, level, label))
    return Heat(
        cells=cells,
        rows=[(top + d * cell + cell / 2 + 5, weekday_names[d]) for d in range(7)],
        columns=[(left + h * cell + cell / 2, f"{h:02d}") for h in range(0, 24, 3)],
        width=left + 24 * cell + 4,
        height=top + 7 * cell + 4,
        cell=cell,
        empty=peak == 0,
    )
