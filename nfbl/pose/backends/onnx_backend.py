"""Top-down ONNX pose: a person detector + an RTMPose / RTMW / DWPose model (SimCC head).

The files come from the user (no download): the mmpose → mmdeploy / rtmlib convention.

Person detector (YOLOX or RTMDet), two output conventions:
  * exported *with* NMS (mmdeploy "end2end", most rtmlib downloads): input
    ``(1, 3, H, W)`` float32 (fixed H, W; 640x640 assumed when dynamic); outputs ``dets``
    ``(1, N, 5)`` = (x1, y1, x2, y2, score) in the input's pixels, and optionally ``labels``
    ``(1, N)`` integer classes (COCO person = 0; other labels dropped). A single output of
    shape ``(N, 5)`` is accepted too.
  * raw YOLOX head *without* NMS (DWPose's ``yolox_l.onnx``): one output ``(1, A, 5 + C)``
    with A = the anchor points of strides 8, 16 and 32 over ``H x W``; decoded as YOLOX
    does ((x, y) + grid) * stride, exp(w, h) * stride, score = objectness x class-0 score,
    then non-maximum suppression (IoU 0.45) over the person boxes.
  Pre-processing (rtmlib's YOLOX): the image is resized keeping its aspect ratio and pasted
  at the top-left of an ``H x W`` canvas filled with 114; channel order and normalisation
  come from :class:`DetectorSpec` (default: BGR, no mean/std = YOLOX; RTMDet wants
  mean (103.53, 116.28, 123.675), std (57.375, 57.12, 58.395) in BGR).

Pose model (top-down, SimCC):
  input ``(N, 3, h, w)`` float32 (``(256, 192)`` or ``(384, 288)``); RGB, normalised with
  mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375);
  outputs ``simcc_x`` ``(N, K, w * 2)`` and ``simcc_y`` ``(N, K, h * 2)`` (split ratio 2.0).
  (mmpose trains on RGB: its data preprocessor has ``bgr_to_rgb=True`` with these means;
  rtmlib and mmpose's own ONNX Runtime demo, ``projects/rtmpose/examples/onnxruntime``,
  feed the BGR image with the same numbers — ``pose_bgr=True``, CLI ``--pose-bgr``,
  reproduces them.) A model exported with a fixed batch of 1 is run one box at a time, as
  those demos run every model.
  Each box is padded by 1.25, widened to the input's aspect ratio and warped (affine, no
  rotation) to ``w x h``. Decoding: the argmax of each SimCC vector / 2.0 gives the
  location in the crop; the score is the smaller of the two maxima (mmpose's rule), clipped
  to [0, 1]; locations are mapped back to the frame. K = 17 → layout ``coco17``;
  K = 133 → ``coco_wholebody133`` (its 68 face points are zeroed, never stored).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.pose.backends.base import PoseBackend

log = logging.getLogger(__name__)

SIMCC_SPLIT_RATIO = 2.0
BBOX_PADDING = 1.25
POSE_MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)  # RGB
POSE_STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
LAYOUT_BY_K = {17: skeletons.COCO17.name, 133: skeletons.COCO_WHOLEBODY133.name}
_FACE = skeletons.COCO_WHOLEBODY133.joints_matching("face_")


def _ort():
    try:
        import onnxruntime as ort  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("onnxruntime", "pose", "the ONNX pose backend") from None
    return ort


def _cv2():
    try:
        import cv2  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        raise MissingDependencyError("opencv-python-headless", "pose",
                                     "the ONNX pose backend") from None
    return cv2


@dataclass(frozen=True)
class DetectorSpec:
    """Person-detector pre/post-processing. ``mean``/``std`` in the model's channel order
    (``None``: raw 0..255 values); ``bgr``: feed BGR (YOLOX and RTMDet do)."""

    bgr: bool = True
    mean: tuple[float, float, float] | None = None
    std: tuple[float, float, float] | None = None
    score_threshold: float = 0.3
    person_label: int = 0
    max_people: int = 10
    pad_value: float = 114.0
    nms_iou: float = 0.45


#: The detectors' pre-processing by family (CLI ``--det-preset``): YOLOX takes raw BGR
#: 0..255 values; RTMDet (mmdet's ``data_preprocessor``, ``bgr_to_rgb=False``) normalises
#: BGR with these means and stds.
DETECTOR_PRESETS = {
    "yolox": DetectorSpec(),
    "rtmdet": DetectorSpec(mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395)),
}


def _session(path: Path, threads: int):
    ort = _ort()
    if not path.is_file():
        raise NfblError(f"{path}: no such ONNX model file")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise NfblError(f"{path}: cannot load this ONNX model ({first})") from None


def _static_hw(shape, default: tuple[int, int], what: str, path: Path) -> tuple[int, int]:
    if len(shape) != 4 or shape[1] not in (3, "3"):
        raise NfblError(f"{path}: {what} input must be (N, 3, H, W), got {shape}")
    h, w = shape[2], shape[3]
    if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
        return h, w
    return default


# --- pre / post-processing (pure numpy + cv2, tested on their own) -------------------------

def letterbox(image_rgb: np.ndarray, size_hw: tuple[int, int], spec: DetectorSpec
              ) -> tuple[np.ndarray, float]:
    """Detector input ``(1, 3, H, W)`` float32 and the resize ratio (input px / frame px)."""
    cv2 = _cv2()
    h, w = size_hw
    ih, iw = image_rgb.shape[:2]
    ratio = min(h / ih, w / iw)
    nh, nw = max(1, int(round(ih * ratio))), max(1, int(round(iw * ratio)))
    img = image_rgb[..., ::-1] if spec.bgr else image_rgb
    resized = cv2.resize(np.ascontiguousarray(img), (nw, nh), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((h, w, 3), spec.pad_value, dtype=np.float32)
    canvas[:nh, :nw] = resized
    if spec.mean is not None:
        canvas -= np.asarray(spec.mean, dtype=np.float32)
    if spec.std is not None:
        canvas /= np.asarray(spec.std, dtype=np.float32)
    return canvas.transpose(2, 0, 1)[None], ratio


def yolox_grid_decode(raw: np.ndarray, input_hw: tuple[int, int],
                      strides: tuple[int, ...] = (8, 16, 32)) -> np.ndarray:
    """Raw YOLOX head ``(A, 5 + C)`` → boxes ``(A, 5)`` (x1, y1, x2, y2, person score) in the
    detector input's pixels. ``A`` must equal the anchor points of ``strides`` over the input."""
    h, w = input_hw
    grids, steps = [], []
    for s in strides:
        yv, xv = np.meshgrid(np.arange(h // s), np.arange(w // s), indexing="ij")
        grids.append(np.stack([xv, yv], -1).reshape(-1, 2))
        steps.append(np.full((grids[-1].shape[0], 1), s))
    grid, step = np.concatenate(grids), np.concatenate(steps)
    if raw.shape[0] != grid.shape[0]:
        raise NfblError(f"raw YOLOX output has {raw.shape[0]} anchors, but a {w}x{h} input "
                        f"gives {grid.shape[0]} at strides {strides}")
    xy = (raw[:, :2] + grid) * step
    wh = np.exp(np.clip(raw[:, 2:4], -20, 20)) * step
    score = raw[:, 4] * raw[:, 5]
    return np.concatenate([xy - wh / 2, xy + wh / 2, score[:, None]], axis=1).astype(np.float32)


def nms(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression of ``(N, 5)`` boxes (best first)."""
    order = np.argsort(-boxes[:, 4], kind="stable")
    keep = []
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    while len(order):
        i = order[0]
        keep.append(i)
        rest = order[1:]
        b, r = boxes[i], boxes[rest]
        ix = (np.minimum(b[2], r[:, 2]) - np.maximum(b[0], r[:, 0])).clip(0)
        iy = (np.minimum(b[3], r[:, 3]) - np.maximum(b[1], r[:, 1])).clip(0)
        inter = ix * iy
        union = area[i] + area[rest] - inter
        order = rest[inter <= iou * np.where(union > 0, union, 1)]
    return np.array(keep, dtype=np.int64)


def parse_detections(outputs: list[np.ndarray], ratio: float, spec: DetectorSpec,
                     frame_wh: tuple[int, int], path: Path | str = "detector",
                     input_hw: tuple[int, int] = (640, 640)) -> np.ndarray:
    """Detector outputs → person boxes ``(P, 5)`` (x1, y1, x2, y2, score) in frame pixels,
    best first, at most ``spec.max_people``."""
    dets = np.asarray(outputs[0], dtype=np.float32)
    if dets.ndim == 3:
        dets = dets[0]
    raw = dets.ndim == 2 and dets.shape[1] > 5 and len(outputs) == 1
    if raw:
        dets = yolox_grid_decode(dets, input_hw)
    elif dets.ndim != 2 or dets.shape[1] != 5:
        raise NfblError(f"{path}: detector output has shape {np.shape(outputs[0])}; nfbl "
                        f"supports (1, N, 5) = x1, y1, x2, y2, score (detectors exported with "
                        f"NMS, rtmlib / mmdeploy end2end) and raw YOLOX heads (1, A, 5 + C)")
    keep = dets[:, 4] >= spec.score_threshold
    if len(outputs) > 1 and not raw:
        labels = np.asarray(outputs[1]).reshape(-1)
        if labels.shape[0] == dets.shape[0]:
            keep &= labels.astype(np.int64) == spec.person_label
    dets = dets[keep]
    if raw and len(dets):
        dets = dets[nms(dets, spec.nms_iou)]
    dets[:, :4] /= ratio
    w, h = frame_wh
    dets[:, [0, 2]] = np.clip(dets[:, [0, 2]], 0, w - 1)
    dets[:, [1, 3]] = np.clip(dets[:, [1, 3]], 0, h - 1)
    dets = dets[(dets[:, 2] - dets[:, 0] > 1) & (dets[:, 3] - dets[:, 1] > 1)]
    order = np.argsort(-dets[:, 4], kind="stable")
    return dets[order][: spec.max_people]


def box_to_center_scale(box: np.ndarray, input_wh: tuple[int, int],
                        padding: float = BBOX_PADDING) -> tuple[np.ndarray, np.ndarray]:
    """mmpose's ``bbox_xyxy2cs`` + ``_fix_aspect_ratio``: centre (2,) and size (2,) pixels."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    center = np.array([(x1 + x2) / 2, (y1 + y2) / 2], dtype=np.float32)
    scale = np.array([(x2 - x1) * padding, (y2 - y1) * padding], dtype=np.float32)
    aspect = input_wh[0] / input_wh[1]
    if scale[0] > scale[1] * aspect:
        scale[1] = scale[0] / aspect
    else:
        scale[0] = scale[1] * aspect
    return center, scale


def crop_person(image_rgb: np.ndarray, center: np.ndarray, scale: np.ndarray,
                input_wh: tuple[int, int], bgr: bool = False) -> np.ndarray:
    """Affine-warp the box (centre, size) to ``input_wh``; normalised ``(3, h, w)`` float32
    (channels RGB, or BGR with ``bgr`` as rtmlib feeds them)."""
    cv2 = _cv2()
    w, h = input_wh
    sx, sy = w / scale[0], h / scale[1]
    mat = np.array([[sx, 0, w / 2 - sx * center[0]], [0, sy, h / 2 - sy * center[1]]],
                   dtype=np.float32)
    crop = cv2.warpAffine(np.ascontiguousarray(image_rgb), mat, (w, h), flags=cv2.INTER_LINEAR)
    if bgr:
        crop = crop[..., ::-1]
    crop = (crop.astype(np.float32) - POSE_MEAN) / POSE_STD
    return crop.transpose(2, 0, 1)


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray,
                 split_ratio: float = SIMCC_SPLIT_RATIO) -> tuple[np.ndarray, np.ndarray]:
    """SimCC vectors ``(N, K, Wx)``, ``(N, K, Wy)`` → locations ``(N, K, 2)`` in crop pixels
    and scores ``(N, K)`` (the smaller of the two maxima; locations of scores <= 0 → -1)."""
    ix = np.argmax(simcc_x, axis=-1)
    iy = np.argmax(simcc_y, axis=-1)
    vx = np.take_along_axis(simcc_x, ix[..., None], -1)[..., 0]
    vy = np.take_along_axis(simcc_y, iy[..., None], -1)[..., 0]
    locs = np.stack([ix, iy], axis=-1).astype(np.float32) / split_ratio
    vals = np.minimum(vx, vy).astype(np.float32)
    locs[vals <= 0] = -1
    return locs, vals


def crop_to_frame(locs: np.ndarray, center: np.ndarray, scale: np.ndarray,
                  input_wh: tuple[int, int]) -> np.ndarray:
    """Crop pixels ``(K, 2)`` → frame pixels (inverse of :func:`crop_person`)."""
    wh = np.asarray(input_wh, dtype=np.float32)
    return locs / wh * scale + center - scale / 2


class OnnxPoseBackend(PoseBackend):
    """Person detector ONNX + top-down SimCC pose ONNX (RTMPose / RTMW / DWPose).

    ``detector=None`` treats the whole frame as one person box (useful for tight crops).
    """

    single_person = False

    def __init__(self, pose_model: str | Path, detector: str | Path | None = None,
                 spec: DetectorSpec = DetectorSpec(), threads: int = 2,
                 min_keypoint_score: float = 0.0, pose_bgr: bool = False):
        self.pose_path = Path(pose_model)
        self.det_path = None if detector is None else Path(detector)
        self.spec = spec
        self.min_keypoint_score = min_keypoint_score
        self.pose_bgr = pose_bgr
        self._pose = _session(self.pose_path, threads)
        inp = self._pose.get_inputs()[0]
        ph, pw = _static_hw(inp.shape, (256, 192), "pose model", self.pose_path)
        self.input_wh = (pw, ph)
        self._pose_input = inp.name
        self._one_at_a_time = inp.shape[0] == 1          # exported with a fixed batch of 1
        outs = self._pose.get_outputs()
        if len(outs) < 2:
            raise NfblError(f"{self.pose_path}: a SimCC pose model has two outputs (simcc_x, "
                            f"simcc_y); this one has {len(outs)}")
        names = [o.name for o in outs]
        self._out_order = ([names.index("simcc_x"), names.index("simcc_y")]
                           if "simcc_x" in names and "simcc_y" in names else [0, 1])
        k = outs[self._out_order[0]].shape[1]
        if isinstance(k, int) and k not in LAYOUT_BY_K:
            raise NfblError(f"{self.pose_path}: the pose model has {k} keypoints; nfbl "
                            f"supports COCO-17 (K=17) and COCO-WholeBody (K=133)")
        self.layout = LAYOUT_BY_K.get(k, "") if isinstance(k, int) else ""
        self._det = None
        if self.det_path is not None:
            self._det = _session(self.det_path, threads)
            dinp = self._det.get_inputs()[0]
            self.det_hw = _static_hw(dinp.shape, (640, 640), "detector", self.det_path)
            self._det_input = dinp.name

    def detect_people(self, frame_rgb: np.ndarray) -> np.ndarray:
        """Person boxes ``(P, 5)`` in frame pixels."""
        h, w = frame_rgb.shape[:2]
        if self._det is None:
            return np.array([[0, 0, w - 1, h - 1, 1.0]], dtype=np.float32)
        blob, ratio = letterbox(frame_rgb, self.det_hw, self.spec)
        outputs = self._det.run(None, {self._det_input: blob})
        return parse_detections(outputs, ratio, self.spec, (w, h), self.det_path, self.det_hw)

    def estimate(self, frame_rgb: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """Keypoints ``(K, 3)`` of each box."""
        if len(boxes) == 0:
            return []
        cs = [box_to_center_scale(b, self.input_wh) for b in boxes]
        batch = np.stack([crop_person(frame_rgb, c, s, self.input_wh, self.pose_bgr)
                          for c, s in cs])
        if self._one_at_a_time:
            runs = [self._pose.run(None, {self._pose_input: crop[None]}) for crop in batch]
            sx = np.concatenate([r[self._out_order[0]] for r in runs])
            sy = np.concatenate([r[self._out_order[1]] for r in runs])
        else:
            outputs = self._pose.run(None, {self._pose_input: batch})
            sx, sy = outputs[self._out_order[0]], outputs[self._out_order[1]]
        locs, vals = decode_simcc(sx, sy)
        k = locs.shape[1]
        if k not in LAYOUT_BY_K:
            raise NfblError(f"{self.pose_path}: the pose model returned {k} keypoints; nfbl "
                            f"supports K=17 and K=133")
        self.layout = LAYOUT_BY_K[k]
        people = []
        for (c, s), loc, val in zip(cs, locs, vals):
            kp = np.zeros((k, 3), dtype=np.float32)
            kp[:, :2] = crop_to_frame(loc, c, s, self.input_wh)
            kp[:, 2] = np.clip(val, 0.0, 1.0)
            missing = (val <= self.min_keypoint_score) | (val <= 0)
            kp[missing] = 0.0
            if k == 133:
                kp[list(_FACE)] = 0.0  # the face mesh is never stored
            people.append(kp)
        return people

    def process(self, frame_rgb: np.ndarray, frame_index: int | None = None) -> list[np.ndarray]:
        if self._pose is None:
            raise NfblError("the ONNX pose backend is closed")
        return self.estimate(frame_rgb, self.detect_people(frame_rgb))

    def close(self) -> None:
        self._pose = None
        self._det = None
