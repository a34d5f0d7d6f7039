"""Benchmark reports: JSON, Markdown and PNG charts (matplotlib, imported lazily, Agg backend).

:func:`write_detection_report` writes, into one folder:

* ``report.json`` — the full result of :func:`nfbl.metrics.evaluate.evaluate`;
* ``report.md`` — headline numbers, a per-class table and the charts;
* ``ap_per_class.png`` — horizontal bars AP@0.5 and AP averaged over 0.5:0.95 per class;
* ``f1_per_class.png`` — horizontal bars F1@tIoU per class (with P/R in the label);
* ``pr_curves.png`` — one small precision–recall panel per ground-truth class at tIoU 0.5.

All files are written atomically.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

from nfbl.core.errors import MissingDependencyError
from nfbl.core.atomic import atomic_open, atomic_path

CHART_FILES = ("ap_per_class.png", "f1_per_class.png", "pr_curves.png")


def _pyplot():
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("matplotlib", "extras", "Drawing benchmark charts") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def write_json(data: dict, path: str | Path) -> Path:
    path = Path(path)
    with atomic_open(path) as fh:
        json.dump(data, fh, indent=1, allow_nan=False)
        fh.write("\n")
    return path


def _short(name: str, width: int = 26) -> str:
    return name if len(name) <= width else name[: width - 1].rstrip(" ,") + "…"


def _label(row: dict) -> str:
    return f"{row['code']} {_short(row['name'])}"


def _savefig(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    return path


def plot_ap_per_class(rows: Sequence[dict], path: str | Path) -> Path:
    """Horizontal grouped bars: AP@0.5 and mean AP over 0.5:0.95 for classes in the GT."""
    plt = _pyplot()
    rows = [r for r in rows if r["ap_50"] is not None][::-1]
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.32 * n))
    y = list(range(len(rows)))
    ax.barh([i + 0.2 for i in y], [r["ap_50"] for r in rows], height=0.4, color="#4c72b0",
            label="AP @ tIoU 0.5")
    ax.barh([i - 0.2 for i in y], [r["ap_50_95"] for r in rows], height=0.4, color="#dd8452",
            label="AP avg 0.5:0.95")
    ax.set_yticks(y)
    ax.set_yticklabels([f"{_label(r)} (n={r['n_gt']})" for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("average precision (ActivityNet)")
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Per-class AP (n = ground-truth events)")
    try:
        return _savefig(fig, Path(path))
    finally:
        plt.close(fig)


def plot_f1_per_class(rows: Sequence[dict], tiou: float, path: str | Path) -> Path:
    """Horizontal bars: F1@tIoU per class (classes of the GT or the predictions)."""
    plt = _pyplot()
    rows = list(rows)[::-1]
    n = max(len(rows), 1)
    fig, ax = plt.subplots(figsize=(8.0, 1.2 + 0.28 * n))
    y = list(range(len(rows)))
    vals = [r["f1"] or 0.0 for r in rows]
    ax.barh(y, vals, height=0.7, color="#55a868")
    for i, r in zip(y, rows):
        ax.text(min(vals[i] + 0.01, 0.80), i,
                f"{vals[i]:.2f}  P {r['precision']:.2f} R {r['recall']:.2f}", va="center",
                fontsize=7)
    ax.set_yticks(y)
    ax.set_yticklabels([_label(r) for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel(f"F1 @ tIoU {tiou:g} (one-to-one, greedy by score)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Per-class F1 (MiGA online recognition)")
    try:
        return _savefig(fig, Path(path))
    finally:
        plt.close(fig)


def plot_pr_curves(curves: dict, rows: Sequence[dict], tiou: float, path: str | Path) -> Path:
    """Small multiples: one precision–recall panel per ground-truth class."""
    plt = _pyplot()
    by_code = {r["code"]: r for r in rows}
    codes = [c for c in sorted(curves, key=lambda c: int(c[1:]))]
    n = max(len(codes), 1)
    cols = min(6, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(2.3 * cols, 2.1 * nrows + 0.4),
                             sharex=True, sharey=True, squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, code in zip(axes.flat, codes):
        ax.set_visible(True)
        cur, r = curves[code], by_code.get(code, {})
        if cur["recall"]:
            ax.step(cur["recall"], cur["precision"], where="post", color="#4c72b0", lw=1.2)
        else:
            ax.text(0.5, 0.5, "no predictions", ha="center", va="center", fontsize=7)
        ap = r.get("ap_50")
        ax.set_title(f"{code} {_short(r.get('name', ''), 18)}\nAP {ap:.2f}" if ap is not None
                     else code, fontsize=7)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.05)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
    for i in range(cols):  # x labels on the lowest visible panel of every column
        col = [r for r in range(nrows) if axes[r, i].get_visible()]
        if col:
            axes[col[-1], i].xaxis.set_tick_params(labelbottom=True)
            axes[col[-1], i].set_xlabel("recall", fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("precision", fontsize=7)
    fig.suptitle(f"Precision–recall per class at tIoU {tiou:g}", fontsize=10)
    fig.tight_layout()
    try:
        return _savefig(fig, Path(path))
    finally:
        plt.close(fig)


def _md_num(x) -> str:
    return "–" if x is None else f"{x:.3f}"


def detection_markdown(result: dict, title: str = "NFBL detection benchmark",
                       charts: bool = True, sources: dict | None = None) -> str:
    """The Markdown report of :func:`nfbl.metrics.evaluate.evaluate`'s result."""
    f1, anet, th, fr, n = (result["f1"], result["map"]["activitynet"], result["map"]["thumos"],
                           result["frame"], result["counts"])
    out = [f"# {title}", ""]
    if sources:
        out += [f"- {k}: `{v}`" for k, v in sources.items()] + [""]
    out += [
        f"Ground truth: {n['gt_events']} events in {n['gt_videos']} videos "
        f"({n['gt_classes']} classes). Predictions: {n['pred_events']} events in "
        f"{n['pred_videos']} videos.", "",
        "| metric | value |", "|---|---|",
        f"| F1@tIoU {f1['tiou']:g} (micro, one-to-one) | {_md_num(f1['f1'])} "
        f"(P {_md_num(f1['precision'])}, R {_md_num(f1['recall'])}; TP {f1['tp']}, "
        f"FP {f1['fp']}, FN {f1['fn']}) |",
        f"| macro-F1@tIoU {f1['tiou']:g} (GT classes) | {_md_num(f1['macro_f1'])} |",
        f"| mAP@0.5 | {_md_num(anet['map'][0])} |",
        f"| mAP@0.75 | {_md_num(anet['map'][5])} |",
        f"| average mAP 0.5:0.05:0.95 | {_md_num(anet['average_map'])} |",
        f"| average mAP 0.3:0.1:0.7 | {_md_num(th['average_map'])} |",
        f"| frame macro-F1 ({fr['fps']:g} fps) | {_md_num(fr['macro_f1'])} |",
        f"| frame exact-match ratio | {_md_num(fr['exact_match'])} |",
        f"| frame Hamming accuracy | {_md_num(fr['hamming_accuracy'])} |",
        f"| frame Jaccard (sample-averaged) | {_md_num(fr['jaccard'])} |",
        f"| frame macro Cohen's kappa (classes either side marks) | {_md_num(fr.get('macro_kappa'))} |",
        "",
        "mAP per threshold (0.5:0.05:0.95): " + ", ".join(
            f"{t:g}: {_md_num(m)}" for t, m in zip(anet["thresholds"], anet["map"])) + "  ",
        "mAP per threshold (0.3:0.1:0.7): " + ", ".join(
            f"{t:g}: {_md_num(m)}" for t, m in zip(th["thresholds"], th["map"])), "",
        "## Per class", "",
        "| code | class | #GT | #pred | AP@0.5 | AP 0.5:0.95 | AP 0.3:0.7 | F1 | P | R | "
        "frame F1 | frame kappa |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["classes"]:
        out.append(f"| {r['code']} | {r['name']} | {r['n_gt']} | {r['n_pred']} | "
                   f"{_md_num(r['ap_50'])} | {_md_num(r['ap_50_95'])} | {_md_num(r['ap_30_70'])}"
                   f" | {_md_num(r['f1'])} | {_md_num(r['precision'])} | {_md_num(r['recall'])}"
                   f" | {_md_num(r['frame_f1'])} | {_md_num(r.get('frame_kappa'))} |")
    out += ["", "AP: ActivityNet detection (all-point interpolation; classes of the ground "
            "truth; a class without predictions scores 0). F1: MiGA online recognition with "
            "strictly one-to-one matching. See docs/bench.md for the exact definitions.", ""]
    if charts:
        out += ["## Charts", "", "![per-class AP](ap_per_class.png)", "",
                "![per-class F1](f1_per_class.png)", "",
                "![precision-recall curves](pr_curves.png)", ""]
    return "\n".join(out)


def write_detection_report(result: dict, out_dir: str | Path, charts: bool = True,
                           sources: dict | None = None) -> dict[str, Path]:
    """Write report.json, report.md and (``charts``) the three PNGs into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"json": write_json({**result, "sources": sources or {}}, out / "report.json")}
    if charts:
        rows = result["classes"]
        written["ap_chart"] = plot_ap_per_class(rows, out / "ap_per_class.png")
        written["f1_chart"] = plot_f1_per_class(rows, result["f1"]["tiou"], out / "f1_per_class.png")
        written["pr_curves"] = plot_pr_curves(result["pr_curves"]["curves"], rows,
                                              result["pr_curves"]["tiou"], out / "pr_curves.png")
    md = detection_markdown(result, charts=charts, sources=sources)
    with atomic_open(out / "report.md") as fh:
        fh.write(md)
    written["markdown"] = out / "report.md"
    return written
