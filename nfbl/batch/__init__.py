"""Batch processing of archives on Ray: one task per video or keypoint file.

``run_batch(inputs, out_dir, cfg)`` expands the inputs into items, runs one Ray task per item
(a local Ray started for the run, or an existing cluster when ``cfg.ray_address`` is set),
writes each item's events atomically to ``<out>/<id>.events.jsonl`` and records every attempt
in ``<out>/manifest.jsonl``. Re-running with the same output folder skips finished items and
retries failed ones. One failing item never stops the others: every exception is caught
inside the task, a task whose worker process dies is retried by Ray (``cfg.max_retries``)
and then recorded as failed, and a task running longer than ``cfg.item_timeout`` is
cancelled and recorded as failed. Ray is imported lazily; without it the run stops with one
line naming ``pip install 'nfbl[cluster]'``. Usage and the cluster set-up: docs/batch.md.

What becomes an item
--------------------
- A **file named explicitly** is always processed: a keypoint file when its name says so
  (:data:`KEYPOINT_SUFFIXES` and :data:`EXPLICIT_KEYPOINT_SUFFIXES`), otherwise it is handed
  to the video decoder (any container PyAV/FFmpeg reads; an unreadable file fails with the
  decoder's message).
- A **folder** is scanned recursively (hidden entries and the output folder are skipped): a
  folder holding OpenPose ``<vid>_<12 digits>_keypoints.json`` files is one keypoint item per
  video id in it (not descended further); a file is a keypoint item when its name ends with
  one of :data:`KEYPOINT_SUFFIXES`, a video when its suffix is one of :data:`VIDEO_SUFFIXES`
  or its first bytes carry the signature of a container FFmpeg reads (MP4/MOV, Matroska/WebM,
  AVI, MPEG-PS/TS, FLV, ASF/WMV, Ogg, Y4M, NUT, IVF); other files are ignored (counted in the
  log).
- A **glob** (``*``, ``?``, ``[``; ``**`` recurses) is expanded; matches are filtered like a
  folder's files, matching folders are scanned.

Item ids (output names) are the file stems (minus the keypoint suffix; the video id for
OpenPose folders), with characters other than letters, digits, ``._-`` replaced by ``_``;
when several items would share an id, each of them gets ``-<8 hex of its path's SHA-1>``.

Manifest
--------
``<out>/manifest.jsonl`` is an append-only log written by the driver only: one JSON object
per item per run (status ``ok``, ``failed`` or ``skipped``), appended and fsynced as each
item finishes, so a crashed run keeps what it finished; a torn last line is ignored on
reading. Fields: see :class:`ItemRecord`. An item is skipped when its latest ``ok``/``failed``
record is ``ok``, its output file exists, and model name+version, settings
(:attr:`BatchConfig.settings`: stride, persons, pose config) and input size/mtime are
unchanged; a failed item is retried unless ``retry_failed=False``.
"""
from __future__ import annotations

from nfbl.batch.config import (EVENTS_SUFFIX, TIMELINE_SUFFIX, BatchConfig, BatchItem, ItemKind,
                               Status)
from nfbl.batch.discover import (EXPLICIT_KEYPOINT_SUFFIXES, KEYPOINT_SUFFIXES, VIDEO_SUFFIXES,
                                 discover, looks_like_video)
from nfbl.batch.manifest import MANIFEST_NAME, ItemRecord, latest_attempts, plan, read_manifest
from nfbl.batch.runner import BatchSummary, ray_session, run_batch
from nfbl.batch.task import load_detector, model_identity, process_item

__all__ = ["EVENTS_SUFFIX", "TIMELINE_SUFFIX", "BatchConfig", "BatchItem", "ItemKind", "Status",
           "EXPLICIT_KEYPOINT_SUFFIXES", "KEYPOINT_SUFFIXES", "VIDEO_SUFFIXES", "discover",
           "looks_like_video", "MANIFEST_NAME", "ItemRecord", "latest_attempts", "plan",
           "read_manifest", "BatchSummary", "ray_session", "run_batch", "load_detector",
           "model_identity", "process_item"]
