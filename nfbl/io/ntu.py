"""NTU RGB+D / NTU RGB+D 120 ``.skeleton`` text files (Kinect v2) → PoseSequence.

The layout, as the dataset's own reader reads it (shahroudy/NTURGB-D
``Matlab/read_skeleton_file.m``; the Python ports in st-gcn/mmskeleton
``ntu_read_skeleton.py``, MS-G3D and mmaction2 ``gen_ntu_rgbd_raw.py`` read the same)::

    <frames>
    per frame:  <bodies>
      per body: bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence
                handRightState isResticted leanX leanY trackingState
                <joints: 25>
                per joint: x y z depthX depthY colorX colorY
                           orientationW orientationX orientationY orientationZ trackingState

Joints are the Kinect v2 ``JointType`` order (:data:`nfbl.core.skeletons.KINECT_V2_25`), named
by the subject's own side. nfbl keeps the colour-image point (1920x1080 pixels, the RGB
videos' size); the joint's ``trackingState`` gives its score: 2 (tracked) → 1.0, 1 (inferred:
Kinect guessed it) → 0.5, 0 (not tracked) → missing. World coordinates, orientations and the
hand states are not kept. The SDK's images are **mirrored** (the subject's left appears on
the image's left; in a real file ShoulderLeft lies at negative camera x, the sensor's right,
and at the smaller colour x), so x is reflected back as for SMG (``x → 1919 − x``,
``meta["unmirrored"]``). Each ``bodyID`` (Kinect's 64-bit tracking id, kept exactly as text in
``meta["body_ids"]``) is one track, in order of first appearance; frames without a body are
frames without a person. Kinect's extra "bodies" (a chair, a second person) stay tracks:
choose with ``--person``. The file name ``SsssCcccPpppRrrrAaaa`` gives setup, camera, performer,
replication and action; ``meta["label"]`` is the action's 0-based index (A001 → 0), as pyskl's
NTU annotations number it. Lines may end in CRLF and numbers may use exponents (``6.0E-05``).
"""
from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.sequence import PoseSequence
from nfbl.io.inputs import check_input, open_text
from nfbl.keypoints.cleaning import mirror_x

log = logging.getLogger(__name__)

LAYOUT = skeletons.KINECT_V2_25
DEFAULT_FPS = 30.0               # Kinect v2 (the NTU README states no rate)
FRAME_SIZE = (1920, 1080)        # the colour camera, where colorX / colorY lie
SCORE_OF_STATE = {2: 1.0, 1: 0.5}  # joint trackingState: tracked, inferred (0: not tracked)
NAME_RE = re.compile(r"S(?P<setup>\d{3})C(?P<camera>\d{3})P(?P<performer>\d{3})"
                     r"R(?P<replication>\d{3})A(?P<action>\d{3})")
_BODY_VALUES, _JOINT_VALUES = 10, 12
#: The largest (tracks x frames) array a file may ask for (1 GiB; a real NTU clip of 300
#: frames and 4 bodies takes 360 kB).
MAX_BYTES = 2**30


class _Lines:
    """The file's non-empty lines as whitespace-split tokens, with their line numbers."""

    def __init__(self, path: Path):
        self.path = path
        try:
            with open_text(path) as fh:
                self.lines = [(n, line.split()) for n, line in enumerate(fh, 1) if line.strip()]
        except UnicodeDecodeError:
            raise InputFormatError("not a text file (NTU .skeleton files are ASCII text)",
                                   path) from None
        self.i = 0

    def take(self, what: str, count: int | None = None) -> tuple[int, list[str]]:
        if self.i >= len(self.lines):
            last = self.lines[-1][0] if self.lines else 0
            raise InputFormatError(f"the file ends after line {last} where {what} was due "
                                   "(a truncated file?)", self.path)
        n, tokens = self.lines[self.i]
        self.i += 1
        if count is not None and len(tokens) != count:
            raise InputFormatError(f"{what}: {len(tokens)} values, expected {count}",
                                   self.path, n)
        return n, tokens

    def count(self, what: str, limit: int) -> int:
        n, tokens = self.take(what, 1)
        try:
            value = int(tokens[0])
        except ValueError:
            raise InputFormatError(f"{what} must be a whole number, got {tokens[0]!r}",
                                   self.path, n) from None
        if not 0 <= value <= limit:
            raise InputFormatError(f"{what} {value} is out of range (0..{limit})", self.path, n)
        return value


def _joint(tokens: list[str], path: Path, n: int) -> tuple[float, float, float]:
    """(colorX, colorY, score) of one joint line; a joint Kinect did not track, or whose point
    is not finite, is (0, 0, 0)."""
    try:
        cx, cy, state = float(tokens[5]), float(tokens[6]), float(tokens[11])
    except ValueError:
        raise InputFormatError("joint values must be numbers", path, n) from None
    if state not in (0.0, 1.0, 2.0):
        raise InputFormatError(f"a joint's trackingState is 0, 1 or 2, got {tokens[11]!r}",
                               path, n)
    score = SCORE_OF_STATE.get(int(state), 0.0)
    if score == 0 or not (math.isfinite(cx) and math.isfinite(cy)):
        return 0.0, 0.0, 0.0
    return cx, cy, score


def read_ntu(path: str | Path, fps: float | None = None, video_id: str | None = None,
             frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """Read one NTU RGB+D ``.skeleton`` file (see the module doc); ``fps`` defaults to 30."""
    path = check_input(path, "file")
    if fps is None:
        fps = DEFAULT_FPS
    if not fps > 0:
        raise NfblError(f"fps must be positive, got {fps}")
    width, height = frame_size if frame_size and frame_size[0] > 0 else FRAME_SIZE
    lines = _Lines(path)
    if not lines.lines:
        raise InputFormatError("is empty, not an NTU RGB+D skeleton file", path)
    num_frames = lines.count("the frame count", 10**7)
    if num_frames == 0:
        raise InputFormatError("holds no frames (NTU lists such samples in "
                               "NTU_RGBD_samples_with_missing_skeletons.txt)", path)
    tracks: dict[str, int] = {}
    rows: list[tuple[int, int, np.ndarray]] = []  # (frame, track, (25, 3))
    repeated = 0
    for t in range(num_frames):
        bodies = lines.count(f"the body count of frame {t + 1}", 64)
        seen: set[str] = set()
        for b in range(bodies):
            n, info = lines.take(f"body {b + 1} of frame {t + 1}", _BODY_VALUES)
            body_id = info[0]
            while body_id in seen:  # one id twice in a frame: keep both, as their own tracks
                body_id, repeated = body_id + "+", repeated + 1
            seen.add(body_id)
            joints = lines.count(f"the joint count of body {b + 1} of frame {t + 1}", 1000)
            if joints != LAYOUT.num_joints:
                raise InputFormatError(f"body {b + 1} of frame {t + 1} has {joints} joints; "
                                       f"Kinect v2 files have {LAYOUT.num_joints}", path, n)
            kp = np.zeros((LAYOUT.num_joints, 3), np.float32)
            for j in range(joints):
                jn, tokens = lines.take(f"joint {j + 1} of body {b + 1} of frame {t + 1}",
                                        _JOINT_VALUES)
                kp[j] = _joint(tokens, path, jn)
            rows.append((t, tracks.setdefault(body_id, len(tracks)), kp))
    if lines.i < len(lines.lines):
        n = lines.lines[lines.i][0]
        raise InputFormatError(f"more lines after the {num_frames} frames the first line "
                               "announces", path, n)
    if repeated:
        log.warning("%s: a bodyID occurs twice in one frame %d time(s); each repeat is kept "
                    "as a track of its own (id + '+')", path, repeated)
    size = len(tracks) * num_frames * LAYOUT.num_joints * 3 * 4
    if size > MAX_BYTES:
        raise InputFormatError(f"{len(tracks)} Kinect bodies over {num_frames} frames would "
                               f"take {size / 2**30:.1f} GiB; NTU clips hold a few bodies "
                               "(is this an NTU RGB+D skeleton file?)", path)
    out = np.zeros((max(1, len(tracks)), num_frames, LAYOUT.num_joints, 3), np.float32)
    for t, k, kp in rows:
        out[k, t] = kp
    if not tracks:
        log.warning("%s: no body in any of the %d frames", path, num_frames)
        out = out[:0]
    out = mirror_x(out, width)  # the SDK's colour image is mirrored (module doc)
    name = path.name[:-len(".skeleton")] if path.name.endswith(".skeleton") else path.stem
    meta: dict = {"source_format": "ntu", "source": str(path), "unmirrored": True,
                  "body_ids": list(tracks)}
    m = NAME_RE.search(name)
    if m:
        meta.update({k: int(v) for k, v in m.groupdict().items()})
        meta["label"] = meta["action"] - 1
    if len(tracks) > 1:
        log.info("%s: %d Kinect bodies (a second person, or furniture Kinect took for one); "
                 "each is a track", path, len(tracks))
    return PoseSequence(out, LAYOUT.name, float(fps), np.arange(num_frames) / float(fps),
                        (int(width), int(height)), np.arange(len(tracks)), video_id or name,
                        meta)
