"""The independent face check (OpenCV Haar cascades) of nfbl.perf.faces, on the real media.

Skips when this OpenCV ships no cascades (OpenCV 5) or ../shared/media is absent.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")

from nfbl.perf import faces  # noqa: E402

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"
needs_cascades = pytest.mark.skipif(faces.cascade_dir() is None,
                                    reason="this OpenCV ships no Haar cascades (needs <5)")
needs_media = pytest.mark.skipif(not (MEDIA / "messi5.jpg").is_file(),
                                 reason="../shared/media is absent")


def test_same_face_rule():
    a = np.array([10, 10, 30, 30], np.float32)
    assert faces.same_face(a, a + 2)
    assert faces.same_face(a, np.array([12, 14, 26, 28], np.float32))
    assert not faces.same_face(a, a + 25)


@needs_cascades
@needs_media
def test_haar_finds_the_faces_of_the_photos_and_none_after_the_default_blur():
    from nfbl.pose.video import read_image
    haar = faces.HaarFaces()
    imgs = [read_image(MEDIA / n) for n in ("messi5.jpg", "basketball1.png")]
    res = faces.mosaic_check(imgs, cells=(4,), haar=haar)
    assert res["faces"] >= 2                  # the judge sees faces at all
    assert res["4 cells"] == 0, res           # and none of them after the default blur


@pytest.mark.slow
@needs_cascades
@needs_media
def test_the_small_walker_of_vtest_is_found_in_the_input_and_not_in_the_output():
    """Issue 18: the ~9 px face near (509, 162) in the first frames of vtest.avi. The judge
    finds it in the input (4x upscaled regions), and not in the default output."""
    res = faces.measure(MEDIA / "vtest.avi", 0.2, settings={"default": {}},
                        haar=faces.HaarFaces(), background_seconds=10.0)
    assert res["frames"] == 2 and res["faces"] >= 1
    walker = [b for b in res["input_faces"][0] if 495 <= (b[0] + b[2]) / 2 <= 525]
    assert walker, res["input_faces"][0]
    assert res["settings"]["default"]["faces_still_found"] == 0, res["settings"]


def test_command_without_media_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "nfbl.cli.facesbench", "--media", str(tmp_path)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "media not found" in r.stderr
