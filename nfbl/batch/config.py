"""Batch settings and the unit of work: :class:`BatchConfig`, :class:`BatchItem`, output names."""
from __future__ import annotations

import dataclasses
import enum
import json
import os
from dataclasses import dataclass
from typing import Any

from nfbl.core.errors import NfblError

EVENTS_SUFFIX = ".events.jsonl"
TIMELINE_SUFFIX = ".timeline.png"


class ItemKind(str, enum.Enum):
    VIDEO = "video"
    KEYPOINTS = "keypoints"


class Status(str, enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class BatchConfig:
    """Settings of one batch run.

    workers: CPUs of the local Ray started for the run (default: all CPUs of this machine);
      with ``ray_address`` it caps the number of tasks running at once (default: no cap).
    ray_address: an existing Ray cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``);
      None starts a local Ray (or uses the one already initialised in this process).
    model: ONNX detector file (None = the bundled model); it must be readable by every worker.
    stride: pose on every k-th video frame (interpolated in between); keypoint files ignore it.
    persons: ``"interviewee"`` (the main person) or ``"all"``.
    retry_failed: re-run items whose latest attempt failed (else they are skipped).
    timeline: also write ``<id>.timeline.png``.
    cpus_per_task / threads_per_task: Ray CPUs reserved per task and onnxruntime threads.
    max_retries: how often Ray re-runs a task whose worker process died (crash, OOM kill).
    item_timeout: seconds after which an item's task is cancelled (its worker process is
      killed) and the item recorded as failed; counted from submission (see ``_run_tasks``).
    object_store_mb: object store of the local Ray (items exchange only small records).
    pose: a :class:`nfbl.pose.pipeline.PoseConfig` for video items (backend, max_side,
      de-identification, ...); when given it wins over ``stride`` and ``persons`` for videos
      (its progress bar is switched off). None: the pipeline's defaults with ``stride``.
    body_only: keypoint files without hand joints run as reduced-hand tracks instead of
      failing the model's layout check (``ModelCard.hands_optional``).
    """

    workers: int | None = None
    ray_address: str | None = None
    model: str | None = None
    stride: int = 1
    persons: str = "interviewee"
    retry_failed: bool = True
    timeline: bool = False
    cpus_per_task: float = 1.0
    threads_per_task: int = 1
    max_retries: int = 2
    item_timeout: float | None = None
    object_store_mb: int = 256
    pose: Any = None
    body_only: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and int(self.workers) < 1:
            raise NfblError(f"--workers must be >= 1, got {self.workers}")
        if int(self.stride) < 1:
            raise NfblError(f"--stride must be >= 1, got {self.stride}")
        if self.persons not in ("interviewee", "all"):
            raise NfblError(f"persons must be 'interviewee' or 'all', got {self.persons!r}")
        if self.item_timeout is not None and not self.item_timeout > 0:
            raise NfblError(f"--item-timeout must be > 0 seconds, got {self.item_timeout}")
        if self.cpus_per_task <= 0 or self.threads_per_task < 1 or self.max_retries < 0:
            raise NfblError("cpus_per_task must be > 0, threads_per_task >= 1, max_retries >= 0")

    @property
    def settings(self) -> dict[str, Any]:
        """The settings that change an item's output (compared when deciding to skip)."""
        d: dict[str, Any] = {"stride": int(self.stride), "persons": self.persons}
        if self.pose is not None:
            pose = {k: v for k, v in dataclasses.asdict(self.pose).items() if k != "progress"}
            d["pose"] = json.loads(json.dumps(pose, default=str))
        if self.body_only:   # only when set: manifests of earlier runs stay comparable
            d["body_only"] = True
        return d


@dataclass(frozen=True)
class BatchItem:
    """One unit of work: ``path`` absolute; ``video_id`` selects one video of an OpenPose
    folder holding several (else empty)."""

    item_id: str
    path: str
    kind: ItemKind
    video_id: str = ""

    @property
    def input_stat(self) -> tuple[int, float] | None:
        """(size in bytes, mtime in s) of a file input; None for folders or missing files."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return None if os.path.isdir(self.path) else (st.st_size, round(st.st_mtime, 6))
