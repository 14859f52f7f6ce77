"""Server-side charts of the reports pages: matplotlib SVG, embedded as ``data:`` images (the console's
Content-Security-Policy allows ``img-src data:`` and no inline styles, which matplotlib's SVG markup would need)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from datetime import date

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

RED = "#b71c1c"
PALETTE = ("#b71c1c", "#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#5d4037")
FONT = {"family": "DejaVu Sans", "size": 10}  # bundled with matplotlib; covers Vietnamese


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode("utf-8")).decode("ascii")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0)
    return fig


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=FONT["size"])


def bars(labels: Sequence[str], values: Sequence[int], *, color: str = RED, width: float = 6.0) -> str | None:
    """Horizontal bars, biggest on top, each with its value."""
    if not values or not any(values):
        return None
    fig = _figure(width, 0.35 * len(values) + 0.6)
    ax = fig.add_subplot()
    positions = list(range(len(values)))[::-1]
    ax.barh(positions, values, color=color, height=0.65)
    ax.set_yticks(positions, [str(label) for label in labels], fontdict=FONT)
    for y, v in zip(positions, values, strict=True):
        ax.text(v, y, f" {v:,}".replace(",", "."), va="center", fontdict=FONT)
    ax.set_xlim(0, max(values) * 1.18)
    ax.xaxis.set_visible(False)
    _tidy(ax)
    ax.spines["bottom"].set_visible(False)
    return _svg(fig)


def lines(days: Sequence[date], series: Mapping[str, Sequence[int]], *, weekly: bool, width: float = 7.0) -> str | None:
    """One line per series over the period (the first series, the total, drawn thicker)."""
    if not days or not any(any(v) for v in series.values()):
        return None
    fig = _figure(width, 2.8)
    ax = fig.add_subplot()
    xs = list(range(len(days)))
    for i, (name, values) in enumerate(series.items()):
        ax.plot(
            xs,
            list(values),
            label=name,
            color=PALETTE[i % len(PALETTE)],
            linewidth=2.4 if i == 0 else 1.4,
            marker="o" if len(days) <= 16 else None,
            markersize=3,
        )
    ax.set_ylim(bottom=0)
    ticks = xs[:: max(1, len(days) // 8)]
    ax.set_xticks(ticks, [days[x].strftime("%d/%m") for x in ticks], fontdict=FONT)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#e3e6ea")
    ax.set_ylabel("Số phản ánh / tuần" if weekly else "Số phản ánh / ngày", fontdict=FONT)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _tidy(ax)
    return _svg(fig)


def columns(labels: Sequence[str], values: Sequence[int], *, color: str = "#ef6c00", width: float = 4.0) -> str | None:
    """Vertical columns with their values (e.g. ratings 1 to 5 stars, tickets per month)."""
    if not values or not any(values):
        return None
    fig = _figure(width, 2.4)
    ax = fig.add_subplot()
    positions = list(range(len(values)))
    ax.bar(positions, values, color=color, width=0.65)
    ax.set_xticks(positions, [str(label) for label in labels], fontdict=FONT)
    for x, v in zip(positions, values, strict=True):
        if v:
            ax.text(x, v, f"{v:,}".replace(",", "."), ha="center", va="bottom", fontdict=FONT)
    ax.set_ylim(0, max(values) * 1.2)
    ax.yaxis.set_visible(False)
    _tidy(ax)
    ax.spines["left"].set_visible(False)
    return _svg(fig)
