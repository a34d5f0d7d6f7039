import numpy as np
import pytest

from nfbl.core.errors import NfblError
from nfbl.core.sequence import PoseSequence


def _seq(t=20, m=2):
    rng = np.random.default_rng(0)
    kp = rng.uniform(0, 500, (m, t, 17, 3)).astype(np.float32)
    kp[..., 2] = 0.9
    kp[0, 3, 4] = 0  # a missing joint
    return PoseSequence(kp, "coco17", 25.0, np.arange(t) / 25.0, (640, 480), [7, 9], "vid")


def test_save_load_round_trip(tmp_path):
    s = _seq()
    p = s.save(tmp_path / "s.npz")
    r = PoseSequence.load(p)
    np.testing.assert_array_equal(r.keypoints, s.keypoints)
    np.testing.assert_array_equal(r.timestamps, s.timestamps)
    assert r.track_ids.tolist() == [7, 9] and r.layout == "coco17" and r.frame_size == (640, 480)
    assert r.video_id == "vid" and r.fps == 25.0


def test_to_canonical_keeps_missing_missing():
    c = _seq().to_layout()
    assert c.layout == "nfbl56" and c.keypoints.shape == (2, 20, 56, 3)


@pytest.mark.parametrize("mutate,match", [
    (lambda kp, ts: (kp.__setitem__((0, 5, 2, 0), np.nan), ts), "frame 5"),
    (lambda kp, ts: (kp, ts[::-1].copy()), "increasing"),
    (lambda kp, ts: (kp[..., :10, :], ts), "joints"),
])
def test_validation_errors(mutate, match):
    s = _seq()
    kp, ts = s.keypoints.copy(), s.timestamps.copy()
    out = mutate(kp, ts)
    kp2, ts2 = (kp, out[1]) if out[0] is None else out
    with pytest.raises(NfblError, match=match):
        PoseSequence(kp2, "coco17", 25.0, ts2)


def test_load_rejects_other_files(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, a=np.zeros(3))
    with pytest.raises(NfblError, match="not an nfbl PoseSequence"):
        PoseSequence.load(p)
    q = tmp_path / "y.npz"
    q.write_bytes(b"garbage")
    with pytest.raises(NfblError, match=str(q)):
        PoseSequence.load(q)


def test_load_rejects_a_broken_zip(tmp_path):
    p = tmp_path / "s.npz"
    _seq().save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(NfblError, match=str(p)):
        PoseSequence.load(p)
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    with pytest.raises(NfblError, match=str(p)):
        PoseSequence.load(p)
