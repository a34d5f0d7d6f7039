"""PyAV decoding (timestamps, stride, resize, crop, containers) and H.264 writing."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.pose.video import iter_frames, output_size, probe, read_image  # noqa: E402
from nfbl.pose.writer import VideoWriter  # noqa: E402
from media_helpers import write_audio_only  # noqa: E402

pytestmark = pytest.mark.pose

MEDIA = Path(__file__).resolve().parents[3] / "shared" / "media"


def _frames(n=6, w=64, h=48):
    return [np.full((h, w, 3), (30 * i) % 256, np.uint8) for i in range(n)]


def test_variable_frame_rate_timestamps_survive_a_round_trip(tmp_path):
    times = [0.0, 0.1, 0.25, 0.3, 0.5, 0.9]       # no constant rate at all
    out = tmp_path / "vfr.mp4"
    with VideoWriter(out, 10, 64, 48) as w:
        for img, t in zip(_frames(), times):
            w.write(img, t)
    got = list(iter_frames(out))
    assert [f.index for f in got] == list(range(6))
    np.testing.assert_allclose([f.time for f in got], times, atol=1e-3)
    assert [int(round(f.image.mean() / 30)) for f in got] == list(range(6))
    info = probe(out)
    assert (info.width, info.height, info.num_frames, info.codec) == (64, 48, 6, "h264")


def test_stride_decode_all_resize_and_crop(tmp_path):
    out = tmp_path / "v.mkv"
    with VideoWriter(out, 25, 64, 48) as w:
        for i, img in enumerate(_frames(7)):
            w.write(img, i / 25)
    got = list(iter_frames(out, stride=3))
    assert [f.index for f in got] == [0, 3, 6]
    np.testing.assert_allclose([f.time for f in got], [0, 0.12, 0.24], atol=1e-3)
    every = list(iter_frames(out, stride=3, decode_all=True, size=(32, 24)))
    assert [f.image is None for f in every] == [False, True, True, False, True, True, False]
    assert every[0].image.shape == (24, 32, 3)
    crop = list(iter_frames(out, crop=(8, 4, 32, 20), max_seconds=0.05))
    assert len(crop) == 2 and crop[0].image.shape == (20, 32, 3)
    assert output_size(1920, 1080, max_side=1280) == (1280, 720)
    assert output_size(641, 481) == (640, 480)          # H.264 needs even sides
    with pytest.raises(NfblError, match="crop"):
        list(iter_frames(out, crop=(50, 0, 32, 20)))


def test_other_containers_and_codecs_are_read(tmp_path):
    """Not just .mp4: MPEG-4 part 2 in AVI, MJPEG in MOV (written with PyAV here)."""
    for name, codec, pix in (("a.avi", "mpeg4", "yuv420p"), ("b.mov", "mjpeg", "yuvj420p")):
        path = tmp_path / name
        with av.open(str(path), "w") as c:
            s = c.add_stream(codec, rate=Fraction(12))
            s.width, s.height, s.pix_fmt = 64, 48, pix
            for img in _frames(5):
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
            for p in s.encode(None):
                c.mux(p)
        got = list(iter_frames(path))
        assert len(got) == 5, name
        np.testing.assert_allclose([f.time for f in got], np.arange(5) / 12, atol=1e-3)


def test_writer_is_atomic(tmp_path):
    out = tmp_path / "x.mp4"
    with pytest.raises(RuntimeError):
        with VideoWriter(out, 25, 64, 48) as w:
            w.write(_frames(1)[0])
            raise RuntimeError("boom")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with pytest.raises(NfblError, match="shape"):
        with VideoWriter(out, 25, 64, 48) as w:
            w.write(np.zeros((10, 10, 3), np.uint8))
    assert not out.exists()
    with pytest.raises(NfblError, match="must end in"):
        VideoWriter(tmp_path / "x.gif", 25, 64, 48)


def bad_videos(tmp: Path) -> dict[str, Path]:
    """Empty, garbage, truncated and audio-only files."""
    good = tmp / "good.mp4"
    with VideoWriter(good, 25, 64, 48) as w:
        for img in _frames(20):
            w.write(img)
    data = good.read_bytes()
    out = {"empty": tmp / "empty.mp4", "corrupt": tmp / "corrupt.mp4",
           "truncated": tmp / "truncated.mp4", "audio": write_audio_only(tmp / "audio.m4a")}
    out["empty"].write_bytes(b"")
    out["corrupt"].write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    out["truncated"].write_bytes(data[: len(data) // 2])
    return out


@pytest.mark.parametrize("kind, pattern", [("empty", "empty"), ("corrupt", "cannot read"),
                                           ("truncated", "truncated"),
                                           ("audio", "no video stream")])
def test_bad_files_raise_one_clear_line(tmp_path, kind, pattern):
    path = bad_videos(tmp_path)[kind]
    with pytest.raises(NfblError, match=pattern) as err:
        list(iter_frames(path))
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_missing_file_and_bad_stride(tmp_path):
    with pytest.raises(NfblError, match="no such video"):
        list(iter_frames(tmp_path / "nope.mp4"))
    with pytest.raises(NfblError, match="stride"):
        list(iter_frames(tmp_path / "nope.mp4", stride=0))


@pytest.mark.media
def test_real_avi_timestamps_and_truncation(tmp_path):
    if not MEDIA.is_dir():
        pytest.skip("../shared/media is absent")
    src = MEDIA / "vtest.avi"
    info = probe(src)
    assert (info.width, info.height, info.fps, info.codec) == (768, 576, 10.0, "msmpeg4")
    got = list(iter_frames(src, stride=5, max_seconds=2.0))
    # 10 fps: every 5th frame of the first 2 s is at 0.0, 0.5, 1.0, 1.5 s (not 25 fps)
    np.testing.assert_allclose([f.time for f in got], [0.0, 0.5, 1.0, 1.5], atol=1e-6)
    cut = tmp_path / "cut.avi"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size // 3])
    with pytest.raises(NfblError, match="truncated"):
        list(iter_frames(cut))
    img = read_image(MEDIA / "basketball1.png")
    assert img.shape == (480, 640, 3) and img.dtype == np.uint8


def test_display_rotation_of_phone_videos_is_applied(tmp_path):
    """A portrait phone video is stored landscape with a display matrix (the 'rotate=90'
    tag = 90 degrees clockwise); frames come out upright and probe reports portrait."""
    img = np.zeros((48, 64, 3), np.uint8)
    img[:8, :16] = 255                                   # a bright block top-left
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(25))
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(-90)
        for i in range(3):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i * 512 // 1   # any increasing pts
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    info = probe(path)
    assert (info.width, info.height, info.rotation) == (48, 64, -90)
    frame = next(iter_frames(path)).image
    assert frame.shape == (64, 48, 3)
    upright = np.rot90(img, -1)                           # clockwise: block goes top-right
    assert np.abs(frame.astype(int) - upright).mean() < 10
    assert frame[:16, -8:].mean() > 200
    small = next(iter_frames(path, max_side=32)).image
    assert small.shape == (32, 24, 3)
