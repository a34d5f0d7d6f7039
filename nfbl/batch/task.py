"""The per-item task: one video or keypoint file → its events file and manifest record."""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from nfbl.batch.config import EVENTS_SUFFIX, TIMELINE_SUFFIX, BatchConfig, BatchItem, ItemKind, Status
from nfbl.batch.manifest import ItemRecord
from nfbl.core.errors import NfblError

log = logging.getLogger(__name__)

_DETECTORS: dict[tuple[str | None, int, bool], Any] = {}


def load_detector(model: str | None, threads: int = 1, body_only: bool = False):
    """The :class:`nfbl.exports.runtime.Detector` for ``model``, cached per process (a Ray
    worker process runs many tasks; the ONNX session is built once); ``body_only``: its card
    accepts keypoints without hand joints (``ModelCard.hands_optional``)."""
    key = (model, int(threads), bool(body_only))
    det = _DETECTORS.get(key)
    if det is None:
        from nfbl.exports.runtime import Detector  # noqa: PLC0415

        det = Detector.load(model, threads=threads, body_only=body_only)
        _DETECTORS[key] = det
    return det


def model_identity(model: str | None) -> tuple[str, str]:
    """(name, version) from the model card."""
    card = load_detector(model).card
    return str(card.name), str(card.version)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, NfblError):
        return " ".join(text.split()) or type(exc).__name__
    first = " ".join(text.split())[:300]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _read_keypoints(item: BatchItem):
    """A keypoint item → PoseSequence (any format that
    :func:`nfbl.io.keypoints.read_keypoints` reads)."""
    from nfbl.io.keypoints import read_keypoints  # noqa: PLC0415

    seq = read_keypoints(item.path, video_id=item.video_id or None)
    if isinstance(seq, list):  # pragma: no cover - pyskl pickles are refused untrusted
        raise NfblError(f"{item.path}: holds {len(seq)} clips; nfbl batch takes one sequence "
                        f"per file (split it with nfbl keypoints convert)")
    return seq


def _video_sequence(item: BatchItem, cfg: BatchConfig, timings: dict[str, float]):
    """One decoding pass over a video (decode → de-identify → pose every ``stride``-th frame
    → tracks, :func:`nfbl.pose.pipeline.analyse`), then the interviewee or all persons.
    Fills ``timings["pose_s"]`` (the whole pass: decoding, de-identification and pose run
    interleaved, frame by frame, so they are not timed apart)."""
    from nfbl.pose import pipeline  # noqa: PLC0415

    t = time.perf_counter()
    if cfg.pose is not None:
        pose_cfg = dataclasses.replace(cfg.pose, progress=False)
    else:
        pose_cfg = pipeline.PoseConfig(stride=cfg.stride, all_persons=cfg.persons == "all",
                                       progress=False, threads=cfg.threads_per_task)
    result = pipeline.analyse(item.path, pose_cfg)
    timings["pose_s"] = time.perf_counter() - t
    return pipeline.choose(result.sequence, pose_cfg.all_persons)


def process_item(item: BatchItem, out_dir: str, cfg: BatchConfig) -> ItemRecord:
    """Run one item end to end and return its record; never raises for a bad item.

    Writes ``<out_dir>/<id>.events.jsonl`` (and the timeline) atomically. This is the body of
    the Ray task; it also runs in-process (benchmarks, debugging).
    """
    t0 = time.perf_counter()
    c0 = time.process_time()
    timings: dict[str, float] = {}
    stat = item.input_stat
    base = dict(id=item.item_id, input=item.path, kind=item.kind, settings=cfg.settings,
                input_size=None if stat is None else stat[0],
                input_mtime=None if stat is None else stat[1], host=socket.gethostname(),
                pid=os.getpid())
    model = ("", "")
    try:
        detector = load_detector(cfg.model, cfg.threads_per_task, cfg.body_only)
        model = (str(detector.card.name), str(detector.card.version))
        if item.kind is ItemKind.KEYPOINTS:
            t = time.perf_counter()
            seq = _read_keypoints(item)
            timings["load_s"] = time.perf_counter() - t
        else:
            seq = _video_sequence(item, cfg, timings)
        persons = cfg.persons
        if item.kind is ItemKind.VIDEO and cfg.pose is not None:
            persons = "all" if cfg.pose.all_persons else "interviewee"
        t = time.perf_counter()
        stream = detector.detect(seq, persons=persons)
        timings["detect_s"] = time.perf_counter() - t
        t = time.perf_counter()
        from nfbl.io.event_formats import write_events  # noqa: PLC0415

        out = Path(out_dir) / f"{item.item_id}{EVENTS_SUFFIX}"
        write_events(stream, out, fmt="jsonl", fps=seq.fps)
        timeline = None
        if cfg.timeline:
            timeline = Path(out_dir) / f"{item.item_id}{TIMELINE_SUFFIX}"
            _write_timeline(stream, seq, timeline)
        timings["write_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t0
        timings["cpu_s"] = time.process_time() - c0
        return ItemRecord(status=Status.OK, output=str(out),
                          timeline=None if timeline is None else str(timeline),
                          video_id=seq.video_id, events=len(stream), frames=seq.num_frames,
                          media_s=round(seq.duration, 3), timings=timings, model=model[0],
                          model_version=model[1], **base)
    except Exception as exc:  # noqa: BLE001 - one bad item must not stop the batch
        timings["total_s"] = time.perf_counter() - t0
        timings["cpu_s"] = time.process_time() - c0
        tb = None
        if not isinstance(exc, NfblError):
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)[-8:])
            log.debug("%s failed:\n%s", item.path, tb)
        error = one_line(exc) if tb is None else (
            f"{item.path}: {one_line(exc)} (unexpected error; traceback in the manifest)")
        return ItemRecord(status=Status.FAILED, error=error, traceback=tb,
                          timings=timings, model=model[0], model_version=model[1], **base)


def _write_timeline(stream, seq, path: Path) -> None:
    from nfbl.viz.timeline import plot_timeline  # noqa: PLC0415

    plot_timeline(stream, path, duration=seq.duration, title=seq.video_id)
