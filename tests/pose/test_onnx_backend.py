"""The ONNX top-down backend's pre/post-processing, with tiny ONNX models built here that have
the rtmlib / mmdeploy input and output signatures."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytest.importorskip("cv2")

from onnx import TensorProto, helper  # noqa: E402

from nfbl.core.errors import NfblError  # noqa: E402
from nfbl.pose.backends import onnx_backend as ob  # noqa: E402


def _save(graph, path):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def brightest_pixel_pose_model(path, k: int = 17, hw: tuple[int, int] = (256, 192),
                               batch="N"):
    """Pose model (N,3,h,w) → simcc_x (N,K,2w), simcc_y (N,K,2h) peaking at the column / row
    of the brightest pixel of channel 0: every keypoint lands on the bright dot. ``batch=1``
    exports it with a fixed batch of one."""
    h, w = hw
    n = helper.make_node
    nodes = [
        n("Slice", ["input", "c0", "c1", "ax1"], ["ch0"]),                  # (N,1,h,w)
        n("ReduceMax", ["ch0", "ax12"], ["colmax"], keepdims=0),              # (N,w)
        n("ReduceMax", ["ch0", "ax13"], ["rowmax"], keepdims=0),              # (N,h)
        n("Unsqueeze", ["colmax", "ax1"], ["colu"]),                          # (N,1,w)
        n("Unsqueeze", ["rowmax", "ax1"], ["rowu"]),
        n("Expand", ["colu", "shape_x"], ["colk"]),                           # (N,K,w)
        n("Expand", ["rowu", "shape_y"], ["rowk"]),
        n("Unsqueeze", ["colk", "ax3"], ["colk4"]),                           # (N,K,w,1)
        n("Unsqueeze", ["rowk", "ax3"], ["rowk4"]),
        n("Concat", ["colk4", "colk4"], ["col2"], axis=3),                    # (N,K,w,2)
        n("Concat", ["rowk4", "rowk4"], ["row2"], axis=3),
        n("Reshape", ["col2", "rs_x"], ["simcc_x"]),                          # (N,K,2w)
        n("Reshape", ["row2", "rs_y"], ["simcc_y"]),
    ]
    def i64(name, vals):
        return helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals)

    inits = [i64("c0", [0]), i64("c1", [1]), i64("ax1", [1]), i64("ax12", [1, 2]),
             i64("ax13", [1, 3]), i64("ax3", [3]), i64("shape_x", [1, k, w]),
             i64("shape_y", [1, k, h]), i64("rs_x", [0, k, 2 * w]), i64("rs_y", [0, k, 2 * h])]
    graph = helper.make_graph(
        nodes, "tiny_simcc",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, h, w])],
        [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [batch, k, 2 * w]),
         helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [batch, k, 2 * h])],
        inits)
    return _save(graph, path)


def constant_detector(path, dets: np.ndarray, labels: np.ndarray | None = None,
                      hw: tuple[int, int] = (320, 320)):
    """Detector (1,3,H,W) → dets (1,N,5) [, labels (1,N)]: constants (+ 0 x the input)."""
    h, w = hw
    n = helper.make_node
    dets = np.asarray(dets, np.float32)[None]
    nodes = [n("ReduceMean", ["input"], ["m"], keepdims=1),                   # (1,1,1,1)
             n("Reshape", ["m", "one3"], ["m3"]),                              # (1,1,1)
             n("Mul", ["m3", "zero"], ["z"]),
             n("Add", ["dets_c", "z"], ["dets"])]
    inits = [helper.make_tensor("one3", TensorProto.INT64, [3], [1, 1, 1]),
             helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
             helper.make_tensor("dets_c", TensorProto.FLOAT, dets.shape, dets.ravel().tolist())]
    outputs = [helper.make_tensor_value_info("dets", TensorProto.FLOAT, list(dets.shape))]
    if labels is not None:
        lab = np.asarray(labels, np.int64)[None]
        nodes.append(n("Identity", ["labels_c"], ["labels"]))
        inits.append(helper.make_tensor("labels_c", TensorProto.INT64, lab.shape,
                                        lab.ravel().tolist()))
        outputs.append(helper.make_tensor_value_info("labels", TensorProto.INT64, list(lab.shape)))
    graph = helper.make_graph(nodes, "tiny_det",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                             [1, 3, h, w])],
                              outputs, inits)
    return _save(graph, path)


def dot_image(w=640, h=480, dot=(400, 150), r=1):
    img = np.full((h, w, 3), 40, np.uint8)
    x, y = dot
    img[y - r:y + r + 1, x - r:x + r + 1] = 255
    return img


def test_simcc_decoding_and_score_rule():
    sx = np.zeros((1, 2, 8), np.float32)
    sy = np.zeros((1, 2, 6), np.float32)
    sx[0, 0, 5], sy[0, 0, 3] = 0.9, 0.6      # (2.5, 1.5), score min(0.9, 0.6)
    sx[0, 1, 2], sy[0, 1, 4] = -0.2, 0.8     # max <= 0 → location -1
    locs, vals = ob.decode_simcc(sx, sy)
    np.testing.assert_allclose(locs[0, 0], [2.5, 1.5])
    assert vals[0, 0] == pytest.approx(0.6)
    np.testing.assert_allclose(locs[0, 1], [-1, -1])


def test_box_padding_and_aspect_ratio():
    c, s = ob.box_to_center_scale(np.array([100, 100, 200, 400]), (192, 256))
    np.testing.assert_allclose(c, [150, 250])
    # height 300 * 1.25 = 375; width follows the 192/256 aspect ratio
    np.testing.assert_allclose(s, [375 * 192 / 256, 375])
    locs = np.array([[96.0, 128.0], [0.0, 0.0]], np.float32)   # crop centre and corner
    back = ob.crop_to_frame(locs, c, s, (192, 256))
    np.testing.assert_allclose(back[0], c)
    np.testing.assert_allclose(back[1], c - s / 2)


@pytest.mark.parametrize("hw", [(256, 192), (384, 288)])
def test_top_down_maps_keypoints_back_to_the_frame(tmp_path, hw):
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx", 17, hw)
    det = constant_detector(tmp_path / "det.onnx",
                            # a box around the dot, in the detector's 320x320 input pixels
                            # (the 640x480 frame is scaled by 0.5)
                            np.array([[170, 40, 240, 140, 0.9], [0, 0, 30, 30, 0.1]]),
                            labels=np.array([0, 0]))
    img = dot_image()
    with ob.OnnxPoseBackend(pose, det, threads=1) as backend:
        assert backend.layout == "coco17" and backend.input_wh == (hw[1], hw[0])
        boxes = backend.detect_people(img)
        # the low-score box is dropped
        np.testing.assert_allclose(boxes, [[340, 80, 480, 280, 0.9]], atol=1e-4)
        people = backend.process(img)
    assert len(people) == 1
    kp = people[0]
    assert kp.shape == (17, 3) and kp.dtype == np.float32
    # the warped dot lands within one crop pixel (box 140x200 px → ~1 px here)
    np.testing.assert_allclose(kp[:, 0], 400, atol=2.0)
    np.testing.assert_allclose(kp[:, 1], 150, atol=2.0)
    assert (kp[:, 2] == 1.0).all()   # normalised peak > 1 is clipped to 1


def test_detector_labels_filter_non_persons_and_wholebody_drops_the_face(tmp_path):
    pose = brightest_pixel_pose_model(tmp_path / "wb.onnx", 133)
    det = constant_detector(tmp_path / "det.onnx",
                            np.array([[170, 40, 240, 140, 0.9], [10, 10, 100, 100, 0.95]]),
                            labels=np.array([0, 2]))   # the second box is a car
    img = dot_image()
    with ob.OnnxPoseBackend(pose, det, threads=1) as backend:
        people = backend.process(img)
        assert backend.layout == "coco_wholebody133"
    assert len(people) == 1
    kp = people[0]
    face = [i for i, j in enumerate(ob.skeletons.COCO_WHOLEBODY133.joints) if j.startswith("face_")]
    assert len(face) == 68 and (kp[face] == 0).all()
    body = np.setdiff1d(np.arange(133), face)
    np.testing.assert_allclose(kp[body, 0], 400, atol=2.0)


def test_without_detector_the_whole_frame_is_one_person(tmp_path):
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx")
    with ob.OnnxPoseBackend(pose, None, threads=1) as backend:
        people = backend.process(dot_image(dot=(100, 300), r=6))
    # the whole 640x480 frame is squeezed into 192x256 (~4 frame px per crop px); argmax takes
    # the first of the equal maxima across the 13-px dot: within half a dot + one crop px
    np.testing.assert_allclose(people[0][:, :2].mean(axis=0), [100, 300], atol=8.0)


def test_letterbox_keeps_aspect_ratio_top_left():
    img = np.full((100, 200, 3), 200, np.uint8)
    blob, ratio = ob.letterbox(img, (320, 320), ob.DetectorSpec())
    assert blob.shape == (1, 3, 320, 320) and ratio == pytest.approx(1.6)
    assert blob[0, :, :160, :].min() == 200 and blob[0, :, 161:, :].max() == 114


def test_unsupported_models_fail_with_one_line(tmp_path):
    det = constant_detector(tmp_path / "det.onnx", np.zeros((3, 4)))   # 4 columns: neither
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx")
    with ob.OnnxPoseBackend(pose, det, threads=1) as backend:
        with pytest.raises(NfblError, match=r"\(1, N, 5\)"):
            backend.process(dot_image())
    wrong_k = brightest_pixel_pose_model(tmp_path / "k21.onnx", 21)
    with pytest.raises(NfblError, match="21 keypoints"):
        ob.OnnxPoseBackend(wrong_k)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(NfblError, match="cannot load"):
        ob.OnnxPoseBackend(tmp_path / "junk.onnx")
    with pytest.raises(NfblError, match="no such"):
        ob.OnnxPoseBackend(tmp_path / "missing.onnx")


def test_raw_yolox_head_is_decoded_and_suppressed(tmp_path):
    """DWPose's yolox_l.onnx convention: (1, A, 5 + C) without NMS. A 64x64 input has
    8x8 + 4x4 + 2x2 = 84 anchor points; two overlapping person boxes, one kept."""
    raw = np.zeros((84, 6), np.float32)
    raw[19] = [0.5, 0.5, np.log(2), np.log(3), 0.9, 0.9]   # stride 8, cell (3, 2)
    raw[20] = [0.0, 0.5, np.log(2), np.log(3), 0.8, 0.9]   # cell (4, 2): IoU 0.6 with it
    raw[84 - 4] = [0.5, 0.5, 0.0, 0.0, 0.9, 0.2]           # stride 32: score 0.18 < 0.3
    det = constant_detector(tmp_path / "yolox.onnx", raw, hw=(64, 64))
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx")
    with ob.OnnxPoseBackend(pose, det, threads=1) as backend:
        boxes = backend.detect_people(np.zeros((128, 128, 3), np.uint8))
    # centre ((3 + 0.5) * 8, (2 + 0.5) * 8) = (28, 20), size (16, 24) in the 64-px input;
    # the 128-px frame was scaled by 0.5
    np.testing.assert_allclose(boxes, [[40, 16, 72, 64, 0.81]], atol=1e-4)


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10, 0.5], [1, 1, 11, 11, 0.9], [20, 20, 30, 30, 0.4]],
                     np.float32)
    assert ob.nms(boxes, 0.45).tolist() == [1, 2]


@pytest.mark.pose
def test_onnx_backend_through_nfbl_pose_tracks_two_people(tmp_path):
    """Two bright 'people' (dots) moving in opposite directions, a detector box around each:
    `nfbl pose --backend onnx --all-persons` keeps two tracks that follow their dots."""
    import subprocess
    import sys

    pytest.importorskip("av")
    pytest.importorskip("mediapipe")
    from nfbl.pose.writer import VideoWriter
    from nfbl.core.sequence import PoseSequence

    frames, w, h = 8, 320, 240
    path = tmp_path / "dots.mp4"
    track_a = [(60 + 4 * i, 100) for i in range(frames)]
    track_b = [(250 - 4 * i, 150) for i in range(frames)]
    with VideoWriter(path, 10, w, h) as wr:
        for i in range(frames):
            img = np.full((h, w, 3), 40, np.uint8)
            for x, y in (track_a[i], track_b[i]):
                img[y - 3:y + 4, x - 3:x + 4] = 255
            wr.write(img, i / 10)
    # detector input 320x320 (ratio 1): fixed boxes around each dot's path
    det = constant_detector(tmp_path / "det.onnx", np.array([[30, 60, 120, 140, 0.9],
                                                             [190, 110, 280, 190, 0.8]]))
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx")
    out = tmp_path / "seq.npz"
    res = subprocess.run([sys.executable, "-m", "nfbl", "pose", str(path), "-o", str(out),
                          "--backend", "onnx", "--pose-model", str(pose), "--det-model", str(det),
                          "--all-persons", "--stride", "1", "--no-progress"],
                         capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    seq = PoseSequence.load(out)
    assert seq.layout == "coco17" and seq.num_persons == 2 and seq.num_frames == frames
    centres = seq.keypoints[..., :2].mean(axis=2)              # (2, T, 2)
    order = np.argsort(centres[:, 0, 0])                        # track of the left dot first
    np.testing.assert_allclose(centres[order[0]], track_a, atol=3)
    np.testing.assert_allclose(centres[order[1]], track_b, atol=3)


def test_a_pose_model_with_a_fixed_batch_of_one_runs_box_by_box(tmp_path):
    """rtmlib and mmpose's ONNX demo run one box at a time, so exports may fix the batch at
    1: two people must not stop the run (before: onnxruntime INVALID_ARGUMENT)."""
    det = constant_detector(tmp_path / "det.onnx",
                            np.array([[170, 40, 240, 140, 0.9], [150, 30, 260, 150, 0.8]]),
                            labels=np.array([0, 0]))
    img = dot_image()
    got = []
    for batch in ("N", 1):
        pose = brightest_pixel_pose_model(tmp_path / f"pose_{batch}.onnx", batch=batch)
        with ob.OnnxPoseBackend(pose, det, threads=1) as backend:
            got.append(backend.process(img))
    assert len(got[1]) == 2
    np.testing.assert_allclose(np.stack(got[1]), np.stack(got[0]))


def test_detector_preset_and_pose_channel_order_reach_the_backend(tmp_path):
    from nfbl.pose.pipeline import PoseConfig, make_backend
    pose = brightest_pixel_pose_model(tmp_path / "pose.onnx")
    det = constant_detector(tmp_path / "det.onnx", np.array([[170, 40, 240, 140, 0.9]]))
    cfg = PoseConfig(backend="onnx", onnx_pose=pose, onnx_detector=det,
                     onnx_detector_preset="rtmdet", onnx_pose_bgr=True, threads=1)
    backend = make_backend(cfg)
    try:
        assert backend.spec == ob.DETECTOR_PRESETS["rtmdet"] and backend.pose_bgr
    finally:
        backend.close()
    frame = np.zeros((10, 20, 3), np.uint8)             # fills the top half of a 20x20 input
    frame[..., 0] = 200                                  # red, in the RGB frame
    blob, _ = ob.letterbox(frame, (20, 20), ob.DETECTOR_PRESETS["rtmdet"])
    mean, std = np.array((103.53, 116.28, 123.675)), np.array((57.375, 57.12, 58.395))
    # BGR: red is the last channel; below the frame, the 114 padding; both normalised
    np.testing.assert_allclose(blob[0, :, 5, 5], (np.array([0.0, 0.0, 200.0]) - mean) / std,
                               rtol=1e-5)
    np.testing.assert_allclose(blob[0, :, 15, 5], (114.0 - mean) / std, rtol=1e-5)
