"""How fast an OpenPose folder is read (``nfbl keypoints bench-openpose``)."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from nfbl.core.errors import NfblError
from nfbl.io import openpose


def openpose_read_speed(frames: int, repeat: int = 1, io_threads: int | None = None,
                        workdir: str | Path | None = None) -> dict:
    """Write ``frames`` seeded OpenPose frame files (BODY_25 + hands + 70 face points, one
    person, a second one every 10th frame, 10 % of joints missing) into a temporary folder
    under ``workdir``, then time :func:`nfbl.io.openpose.read_openpose` ``repeat`` times.

    Returns ``frames, folder_mb, write_s, walls, cpus, best_s`` (seconds) and the shape read.
    """
    if frames < 1:
        raise NfblError("--frames must be >= 1")
    tmp = Path(tempfile.mkdtemp(prefix="nfbl-openpose-bench-", dir=workdir))
    try:
        rng = np.random.default_rng(0)
        v = openpose.LAYOUT.num_joints
        base = rng.uniform(300, 900, size=(v, 2))
        t0 = time.perf_counter()
        for i in range(frames):
            n = 2 if i % 10 == 0 else 1
            people = np.zeros((n, v, 3))
            for k in range(n):
                people[k, :, :2] = base + [k * 500.0, 0] + rng.normal(0, 2, (v, 2))
                people[k, :, 2] = rng.uniform(0.3, 1.0, v)
                people[k, rng.random(v) < 0.1] = 0.0
            doc_path = tmp / f"bench_{i:012d}_keypoints.json"
            openpose.write_openpose_frame(doc_path, people)
            # OpenPose also writes 70 face points; add them so file sizes are realistic
            with open(doc_path, "r+", encoding="utf-8") as fh:
                face = json.dumps(np.round(rng.uniform(0, 1000, 210), 3).tolist(),
                                  separators=(",", ":"))
                text = fh.read().replace('"face_keypoints_2d":[]', '"face_keypoints_2d":' + face)
                fh.seek(0)
                fh.write(text)
                fh.truncate()
        write_s = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in tmp.iterdir())
        walls, cpus = [], []
        for _ in range(max(1, repeat)):
            t0, c0 = time.perf_counter(), time.process_time()
            seq = openpose.read_openpose(tmp, io_threads=io_threads)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return {"frames": frames, "folder_mb": size / 1e6, "write_s": write_s, "walls": walls,
                "cpus": cpus, "best_s": min(walls), "cpu_count": os.cpu_count(),
                "tracks": seq.num_persons, "seq_frames": seq.num_frames,
                "joints": seq.keypoints.shape[2]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
