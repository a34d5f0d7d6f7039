"""Timeline picture of an event stream: one row per class (and track) present, coloured bars,
an mm:ss time axis. matplotlib is imported lazily (only when a picture is drawn)."""
from __future__ import annotations

from pathlib import Path

from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.core.events import EventStream
from nfbl.core.atomic import atomic_path


def _mmss(seconds: float, decimals: int = 0) -> str:
    """``mm:ss`` (``mm:ss.s`` with ``decimals=1``) of a time in seconds."""
    seconds = max(0.0, float(seconds))
    if decimals:
        minutes, rest = divmod(round(seconds, decimals), 60)
        return f"{int(minutes):02d}:{rest:0{3 + decimals}.{decimals}f}"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{rest:02d}"


def plot_timeline(events: EventStream, path: str | Path, duration: float | None = None,
                  title: str = "", dpi: int = 120) -> Path:
    """Draw ``events`` over time into ``path`` (.png, .svg or .pdf), atomically.

    Rows: one per (class, track) present, sorted by class id; with a single track the track
    is not named. Each class present gets its own colour; bar opacity follows the score.
    ``duration`` (seconds) sets the axis end (default: the last event's end). An empty
    stream gives an empty, labelled axis.
    """
    path = Path(path)
    if path.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise NfblError(f"{path}: the timeline picture must end in .png, .svg or .pdf")
    try:
        import matplotlib  # noqa: PLC0415
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("matplotlib", "extras", "the timeline picture") from None
    evs = list(events)
    tracks = sorted({e.track_id for e in evs})
    rows = sorted({(e.class_id, e.track_id) for e in evs})
    row_of = {r: i for i, r in enumerate(rows)}
    end = max([duration or 0.0] + [e.end for e in evs]) or 1.0
    cmap = plt.get_cmap("tab20")
    colour = {cid: cmap(i % 20) for i, cid in enumerate(sorted({e.class_id for e in evs}))}
    fig_h = 1.2 + 0.38 * max(1, len(rows))
    fig, ax = plt.subplots(figsize=(11, fig_h))
    try:
        for e in evs:
            i = row_of[(e.class_id, e.track_id)]
            ax.broken_barh([(e.start, e.end - e.start)], (i - 0.38, 0.76),
                           facecolors=colour[e.class_id],
                           alpha=0.35 + 0.65 * min(1.0, max(0.0, e.score)),
                           edgecolor="black", linewidth=0.4)
        labels = []
        for cid, tid in rows:
            e = next(x for x in evs if x.class_id == cid)
            name = f"N{cid} {e.label}"
            labels.append(f"{name} [track {tid}]" if len(tracks) > 1 else name)
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(labels, fontsize=9)
        ax.set_ylim(-0.6, max(1, len(rows)) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(0, end)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=12, steps=[1, 2, 5, 10]))
        decimals = 2 if end < 2 else 1 if end < 12 else 0
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _mmss(x, decimals)))
        ax.set_xlabel("time (mm:ss)")
        ax.grid(axis="x", linestyle=":", linewidth=0.6)
        ax.set_title(title or "NFBL events", fontsize=11)
        if not evs:
            ax.text(0.5, 0.5, "no events", transform=ax.transAxes, ha="center", va="center")
            ax.set_yticks([])
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".").lower())
    finally:
        plt.close(fig)
    return path
