"""Batch throughput: in-process serial against local Ray with 1..n workers, and the batch
machinery alone (empty tasks); ``nfbl batch --bench``."""
from __future__ import annotations

import dataclasses
import os
import socket
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from nfbl.batch.config import BatchConfig, BatchItem, Status
from nfbl.batch.discover import discover
from nfbl.batch.manifest import ItemRecord
from nfbl.batch.runner import _ray, ray_session, run_batch
from nfbl.batch.task import load_detector, process_item
from nfbl.core.errors import NfblError

@dataclass(frozen=True)
class BenchRow:
    """One benchmark mode over all items, repeated (``workers`` 0 = in-process serial,
    ``-w`` = :func:`empty_item` tasks on the ``w``-worker Ray).

    ``walls`` = wall time (s) of the task phase of each repetition (first submit → last
    result; serially: the loop over items); ``task_sums`` / ``cpu_sums`` = the items'
    in-task ``total_s`` / ``cpu_s`` summed, per repetition; ``startup_s`` = ``ray.init``
    (0 in-process)."""

    mode: str
    workers: int
    items: int
    ok: int
    startup_s: float
    walls: tuple[float, ...]
    task_sums: tuple[float, ...]
    cpu_sums: tuple[float, ...] = ()

    @property
    def cpu_s(self) -> float:
        """Median over repetitions of the items' in-task CPU seconds (``timings.cpu_s``)."""
        return float(statistics.median(self.cpu_sums)) if self.cpu_sums else float("nan")

    @property
    def wall_s(self) -> float:
        return float(statistics.median(self.walls))

    @property
    def items_per_s(self) -> float:
        return self.items / self.wall_s if self.wall_s > 0 else float("nan")

    @property
    def outside_task_s(self) -> float:
        """Median over repetitions of (wall − Σ in-task time) / items: per item, the time the
        run spent outside the task bodies (meaningful with one worker)."""
        return float(statistics.median((w - t) / self.items
                                       for w, t in zip(self.walls, self.task_sums)))


@dataclass(frozen=True)
class BenchResult:
    """Serial in-process baseline and Ray runs over the same items; ``media_s`` = seconds of
    keypoints/video per repetition."""

    rows: tuple[BenchRow, ...]
    media_s: float

    def overhead_per_item_s(self) -> float | None:
        """(median wall of the 1-worker Ray run − median wall of the serial run) / items."""
        serial = next((r for r in self.rows if r.workers == 0), None)
        one = next((r for r in self.rows if r.workers == 1), None)
        if serial is None or one is None or not serial.items:
            return None
        return (one.wall_s - serial.wall_s) / serial.items

    def table(self) -> str:
        lines = [f"{'mode':<18} {'items':>5} {'ok':>4} {'start s':>8} {'wall s (runs)':>24} "
                 f"{'items/s':>8} {'x realtime':>10} {'outside task ms/item':>21} "
                 f"{'task CPU s':>10}"]
        for r in self.rows:
            rt = (f"{self.media_s / r.wall_s:.3g}" if r.wall_s > 0 and r.workers >= 0
                  else "-")
            runs = ", ".join(f"{w:.2f}" for w in r.walls)
            outside = f"{r.outside_task_s * 1000:.1f}" if r.workers in (0, 1, -1) else "-"
            cpu = f"{r.cpu_s:.2f}" if r.cpu_sums else "-"
            lines.append(f"{r.mode:<18} {r.items:>5} {r.ok:>4} {r.startup_s:>8.2f} "
                         f"{r.wall_s:>7.2f} ({runs:>14}) {r.items_per_s:>8.2f} {rt:>10} "
                         f"{outside:>21} {cpu:>10}")
        ov = self.overhead_per_item_s()
        if ov is not None:
            lines.append(f"Ray overhead per item, 1 worker vs in-process serial (median walls): "
                         f"{ov * 1000:.1f} ms; media per run: {self.media_s:.0f} s")
        empty = next((r for r in self.rows if r.workers == -1), None)
        if empty is not None:
            lines.append(f"Batch machinery per item with empty tasks, 1 worker (Ray dispatch + "
                         f"result + manifest line): {empty.wall_s / empty.items * 1000:.1f} ms")
        return "\n".join(lines)


def _total(records: Iterable[ItemRecord], key: str) -> float:
    return float(sum(r.timings.get(key, 0.0) for r in records))


def empty_item(item: BatchItem, out_dir: str, cfg: BatchConfig) -> ItemRecord:
    """A task body that does no work (reads nothing, writes nothing): run through
    :func:`run_batch` it measures what the batch machinery alone costs per item."""
    t0 = time.perf_counter()
    return ItemRecord(id=item.item_id, status=Status.OK, input=item.path, kind=item.kind,
                      settings=cfg.settings, host=socket.gethostname(), pid=os.getpid(),
                      timings={"total_s": time.perf_counter() - t0})


def benchmark(inputs: Sequence[str | Path], out_dir: str | Path, cfg: BatchConfig = BatchConfig(),
              workers: Sequence[int] = (1, 2), repeat: int = 3) -> BenchResult:
    """Throughput of the same items in-process serially and on a fresh local Ray per
    ``workers`` count, each ``repeat`` times (medians reported). Every repetition writes into
    its own new sub-folder of ``out_dir`` (nothing is skipped). The serial baseline loads the
    detector before timing; each Ray run's first repetition includes the workers' imports
    and model loads. Needs a process where Ray is not initialised yet."""
    import tempfile  # noqa: PLC0415

    ray = _ray()
    if ray.is_initialized():
        raise NfblError("the batch benchmark starts its own local Ray; call it in a process "
                        "where Ray is not initialised")
    if repeat < 1:
        raise NfblError(f"repeat must be >= 1, got {repeat}")
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    items = discover(inputs, exclude=out)
    if not items:
        raise NfblError("no videos or keypoint files found in " + ", ".join(map(str, inputs)))
    if cfg.model is not None:
        cfg = dataclasses.replace(cfg, model=str(Path(cfg.model).expanduser().resolve()))
    load_detector(cfg.model, cfg.threads_per_task)
    rows = []
    walls, sums, cpus, recs = [], [], [], []
    for _ in range(repeat):
        d = tempfile.mkdtemp(prefix="bench-serial-", dir=out)
        t = time.perf_counter()
        recs = [process_item(item, d, cfg) for item in items]
        walls.append(time.perf_counter() - t)
        sums.append(_total(recs, "total_s"))
        cpus.append(_total(recs, "cpu_s"))
    rows.append(BenchRow("in-process serial", 0, len(items),
                         sum(r.status is Status.OK for r in recs), 0.0, tuple(walls), tuple(sums),
                         tuple(cpus)))
    media = sum(r.media_s or 0.0 for r in recs)
    for w in workers:
        wcfg = dataclasses.replace(cfg, workers=int(w), ray_address=None)
        t = time.perf_counter()
        with ray_session(wcfg):
            startup = time.perf_counter() - t
            walls, sums, cpus = [], [], []
            for _ in range(repeat):
                d = tempfile.mkdtemp(prefix=f"bench-ray{w}-", dir=out)
                s = run_batch(inputs, d, wcfg)
                walls.append(s.tasks_s)
                sums.append(_total(s.records, "total_s"))
                cpus.append(_total(s.records, "cpu_s"))
            row = BenchRow(f"ray, {w} worker{'s' if w != 1 else ''}", int(w), len(s.records),
                           s.count(Status.OK), startup, tuple(walls), tuple(sums), tuple(cpus))
            e_walls, e_sums = [], []
            for _ in range(repeat):
                d = tempfile.mkdtemp(prefix=f"bench-empty{w}-", dir=out)
                s = run_batch(inputs, d, wcfg, item_fn=empty_item)
                e_walls.append(s.tasks_s)
                e_sums.append(_total(s.records, "total_s"))
        rows.append(row)
        rows.append(BenchRow("  empty tasks", -int(w), len(s.records), s.count(Status.OK),
                             0.0, tuple(e_walls), tuple(e_sums)))
    return BenchResult(tuple(rows), media)
