"""Ray scheduling: :func:`run_batch` runs one task per item and writes the manifest."""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from nfbl import __version__
from nfbl.batch.config import BatchConfig, BatchItem, Status
from nfbl.batch.discover import discover
from nfbl.batch.manifest import (MANIFEST_NAME, ItemRecord, ManifestWriter, latest_attempts, plan,
                                 read_manifest)
from nfbl.batch.task import model_identity, one_line, process_item
from nfbl.core.errors import MissingDependencyError, NfblError

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class BatchSummary:
    """What one :func:`run_batch` did: one record per item (input order), wall time (s) of the
    whole run, of starting/connecting Ray and of the task phase (first submit → last result),
    the CPUs Ray offered."""

    records: tuple[ItemRecord, ...]
    out_dir: Path
    manifest: Path
    wall_s: float
    startup_s: float
    cpus: float
    run: str
    tasks_s: float = 0.0

    def count(self, status: Status) -> int:
        return sum(r.status is status for r in self.records)

    @property
    def ok(self) -> bool:
        return self.count(Status.FAILED) == 0

    def table(self, width: int = 100) -> str:
        """A plain-text summary table (one row per item) and a totals line."""
        rows = [("id", "kind", "status", "events", "frames", "task s", "note")]
        for r in self.records:
            note = r.error or ""
            if note.startswith(r.input + ": "):
                note = note[len(r.input) + 2:]  # the id column names the item already
            if r.status is Status.SKIPPED:
                note = f"{r.reason}: {note}" if note else (r.reason or "")
            rows.append((r.id, r.kind.value, r.status.value,
                         "-" if r.events is None else str(r.events),
                         "-" if r.frames is None else str(r.frames),
                         "-" if "total_s" not in r.timings or r.status is Status.SKIPPED
                         else f"{r.timings['total_s']:.2f}", note))
        widths = [max(len(row[i]) for row in rows) for i in range(6)]
        lines = []
        for row in rows:
            head = "  ".join(c.ljust(w) if i in (0, 1, 2) else c.rjust(w)
                             for i, (c, w) in enumerate(zip(row[:6], widths)))
            room = max(20, width - len(head) - 2)
            note = row[6] if len(row[6]) <= room else row[6][:room - 3] + "..."
            lines.append(f"{head}  {note}".rstrip())
        n = len(self.records)
        ray_note = (f"Ray start {self.startup_s:.1f} s, {self.cpus:g} CPUs" if self.cpus
                    else "nothing to run")
        lines.append(f"{n} item{'s' if n != 1 else ''}: {self.count(Status.OK)} ok, "
                     f"{self.count(Status.FAILED)} failed, {self.count(Status.SKIPPED)} skipped "
                     f"in {self.wall_s:.1f} s ({ray_note}); manifest: {self.manifest}")
        return "\n".join(lines)


def _ray():
    try:
        import ray  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("ray", "cluster", "nfbl batch (one task per video on "
                                     "Ray)") from None
    return ray


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``host:port`` (or ``ray://host:port``) nobody listens on: Ray itself
    keeps retrying for minutes. ``auto`` is left to Ray (it fails fast when no Ray runs)."""
    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)/?", address.strip())
    if m is None:
        return
    host, port = m[1], int(m[2])
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise NfblError(f"cannot reach the Ray cluster at {address!r} ({reason}); is "
                        f"'ray start --head' running there, and is the port right (6379 for "
                        f"the head, 10001 for ray://)?") from None


@contextlib.contextmanager
def ray_session(cfg: BatchConfig) -> Iterator[Any]:
    """Yield the ``ray`` module, initialised: an existing cluster (``cfg.ray_address``), the
    Ray already initialised in this process, or a local Ray with ``cfg.workers`` CPUs (shut
    down on exit; only what this function started is shut down)."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
        if cfg.ray_address:
            _check_reachable(cfg.ray_address)
        try:
            if cfg.ray_address:
                ray.init(address=cfg.ray_address, log_to_driver=False,
                         logging_level=logging.WARNING)
            else:
                ray.init(num_cpus=cfg.workers or os.cpu_count() or 1, include_dashboard=False,
                         log_to_driver=False, logging_level=logging.WARNING,
                         object_store_memory=max(80, cfg.object_store_mb) * 2**20)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {cfg.ray_address!r}" if cfg.ray_address else "a local Ray"
            raise NfblError(f"cannot start or reach {where}: {one_line(exc)}") from None
        started = True
    elif cfg.ray_address:
        log.info("Ray is already initialised in this process; ignoring ray_address=%s",
                 cfg.ray_address)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _crash_record(item: BatchItem, exc: BaseException, cfg: BatchConfig) -> ItemRecord:
    stat = item.input_stat
    what = type(exc).__name__
    msg = " ".join(str(exc).split())[:300]
    return ItemRecord(id=item.item_id, status=Status.FAILED, input=item.path, kind=item.kind,
                      settings=cfg.settings, input_size=None if stat is None else stat[0],
                      input_mtime=None if stat is None else stat[1],
                      error=f"the Ray task failed ({what}) after {cfg.max_retries} "
                            f"retr{'y' if cfg.max_retries == 1 else 'ies'}: {msg}")


ItemFn = Callable[[BatchItem, str, BatchConfig], ItemRecord]


def run_batch(inputs: Sequence[str | Path], out_dir: str | Path, cfg: BatchConfig = BatchConfig(),
              item_fn: ItemFn = process_item,
              on_record: Callable[[ItemRecord], None] | None = None) -> BatchSummary:
    """Process every input item as one Ray task; see the module doc.

    ``item_fn`` is the task body (default :func:`process_item`; tests and benchmarks pass
    their own); ``on_record`` is called in the driver as each item finishes (progress).
    Raises :class:`NfblError` for bad arguments (missing input, no items, unreadable model,
    Ray missing or unreachable); per-item problems only go into the records.
    """
    t_start = time.perf_counter()
    _ray()  # fail early, with the install hint, when Ray is missing
    out = Path(out_dir).expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise NfblError(f"{out}: --out must be a folder, and this is a file")
    if cfg.model is not None:
        model_path = Path(cfg.model).expanduser().resolve()
        if not model_path.is_file():
            raise NfblError(f"{cfg.model}: no such model file (expected an nfbl .onnx detector)")
        cfg = dataclasses.replace(cfg, model=str(model_path))  # workers need an absolute path
    items = discover(inputs, exclude=out)
    if not items:
        raise NfblError("no videos or keypoint files found in " + ", ".join(map(str, inputs)))
    _check_out_dir(out, items)
    model = model_identity(cfg.model) if item_fn is process_item else ("", "")
    run = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    manifest_path = out / MANIFEST_NAME
    writer = ManifestWriter(manifest_path)
    records: dict[str, ItemRecord] = {}
    startup = 0.0
    cpus = 0.0
    tasks_s = 0.0
    try:
        to_run, skipped = plan(items, latest_attempts(read_manifest(manifest_path)), out,
                               model, cfg)
        for item_id, rec in skipped.items():
            rec = dataclasses.replace(rec, run=run, finished=_now())
            writer.write(rec)
            records[item_id] = rec
            if on_record:
                on_record(rec)
        log.info("%d item(s): %d to run, %d skipped", len(items), len(to_run), len(skipped))
        if to_run:
            t = time.perf_counter()
            with ray_session(cfg) as ray:
                startup = time.perf_counter() - t
                cpus = float(ray.cluster_resources().get("CPU", 0.0))
                t = time.perf_counter()
                for rec in _run_tasks(ray, to_run, str(out), cfg, item_fn, cpus):
                    rec = dataclasses.replace(rec, run=run, finished=_now())
                    writer.write(rec)
                    records[rec.id] = rec
                    if on_record:
                        on_record(rec)
                tasks_s = time.perf_counter() - t
    finally:
        writer.close()
    ordered = tuple(records[i.item_id] for i in items if i.item_id in records)
    return BatchSummary(ordered, out, manifest_path, time.perf_counter() - t_start, startup,
                        cpus, run, tasks_s)


def _check_out_dir(out: Path, items: Sequence[BatchItem]) -> None:
    """Refuse an output folder that holds inputs: ``<id>.events.jsonl`` could overwrite
    annotation files next to them (``nfbl synth`` writes ``<vid>.events.jsonl``)."""
    for item in items:
        p = Path(item.path)
        if p.parent == out or (p.is_dir() and p == out):
            raise NfblError(f"{out}: --out holds input files ({p.name}); outputs named "
                            f"<id>.events.jsonl could overwrite files there; choose another "
                            f"folder")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _run_tasks(ray, items: Sequence[BatchItem], out_dir: str, cfg: BatchConfig, item_fn: ItemFn,
               cpus: float) -> Iterator[ItemRecord]:
    """Submit the items (at most ``limit`` in flight) and yield records as tasks finish.

    Without a timeout twice the CPUs are kept in flight (no idle gap between tasks); with
    ``cfg.item_timeout`` only as many as there are CPUs, so that a task starts about when it
    is submitted and its time can be counted from the submission."""
    remote = ray.remote(num_cpus=cfg.cpus_per_task, max_retries=cfg.max_retries)(item_fn)
    slots = max(1, int(max(cpus, 1) / cfg.cpus_per_task))
    if cfg.ray_address and cfg.workers:
        limit = int(cfg.workers)
    else:
        limit = slots if cfg.item_timeout else max(2, 2 * slots)
    pending: dict[Any, tuple[BatchItem, float]] = {}
    queue = list(items)
    queue.reverse()
    while queue or pending:
        while queue and len(pending) < limit:
            item = queue.pop()
            pending[remote.remote(item, out_dir, cfg)] = (item, time.perf_counter())
        done, _ = ray.wait(list(pending), num_returns=1,
                           timeout=None if cfg.item_timeout is None else 0.5)
        for ref in done:
            item, t_sub = pending.pop(ref)
            try:
                rec = ray.get(ref)
            except ray.exceptions.RayError as exc:
                log.warning("%s: task failed in Ray: %s", item.path, one_line(exc))
                rec = _crash_record(item, exc, cfg)
            yield _finish(rec, item, t_sub)
        if cfg.item_timeout is not None:
            now = time.perf_counter()
            for ref, (item, t_sub) in list(pending.items()):
                if now - t_sub > cfg.item_timeout:
                    del pending[ref]
                    ray.cancel(ref, force=True)  # kills the worker process running it
                    log.warning("%s: cancelled after %.0f s", item.path, cfg.item_timeout)
                    yield _finish(_timeout_record(item, cfg), item, t_sub)


def _finish(rec: ItemRecord, item: BatchItem, t_sub: float) -> ItemRecord:
    if rec.nfbl_version != __version__:
        log.warning("%s ran on a worker with nfbl %s (driver: %s)", item.item_id,
                    rec.nfbl_version, __version__)
    return dataclasses.replace(rec, timings={**rec.timings,
                                             "wall_s": time.perf_counter() - t_sub})


def _timeout_record(item: BatchItem, cfg: BatchConfig) -> ItemRecord:
    stat = item.input_stat
    return ItemRecord(id=item.item_id, status=Status.FAILED, input=item.path, kind=item.kind,
                      settings=cfg.settings, input_size=None if stat is None else stat[0],
                      input_mtime=None if stat is None else stat[1],
                      error=f"{item.path}: took longer than --item-timeout "
                            f"{cfg.item_timeout:g} s; the task was cancelled")
