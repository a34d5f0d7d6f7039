"""Run an exported NFBL detector with onnxruntime (numpy + onnxruntime only, never torch).

:class:`Detector` loads an ONNX file written by :func:`nfbl.detectors.export.export` (or the
bundled default model), reads its model card, and offers

- :meth:`Detector.predict`: normalised keypoints ``(T, V, 3)`` → ``probs (T, C)``,
  ``offsets (T, C, 2)``, in chunks of ``card.window`` frames with ``card.overlap`` frames of
  context on each side (chunk starts aligned to ``card.stride``), so memory does not grow
  with T and the result equals whole-sequence inference (to float rounding);
- :meth:`Detector.detect`: a :class:`~nfbl.core.sequence.PoseSequence` → an
  :class:`~nfbl.core.events.EventStream` (preprocessing by :func:`nfbl.exports.model_input.prepare`,
  decoding by :func:`nfbl.exports.decoding.decode`, then the contact check of
  :mod:`nfbl.keypoints.contact` when the decode settings ask for it);
- :meth:`Detector.stream`: a :class:`StreamingDetector` that takes normalised frames as
  they arrive and yields events as they close (online mode), exactly the offline events.
"""
from __future__ import annotations

import importlib.resources
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from nfbl.exports import decoding, model_input
from nfbl.exports.chunks import chunk_at, chunk_plan
from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.events import Event, EventStream
from nfbl.keypoints import contact
from nfbl.keypoints.tracking import Persons
from nfbl.exports.modelcard import METADATA_KEY, ModelCard
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

BUNDLED_MODEL = "nfbl_default.onnx"
#: The bundled model's weights as a training checkpoint (config + weights + card, no optimiser
#: state), for fine-tuning: ``[run] init_checkpoint = "bundled"``. Read by torch, never here.
BUNDLED_CHECKPOINT = "nfbl_default.pt"
INPUT_NAME = "keypoints"


def _package_model_file(name: str) -> Path | None:
    try:
        res = importlib.resources.files("nfbl") / "models" / name
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        return None
    path = Path(str(res))
    return path if path.is_file() else None


def video_length(seq: PoseSequence) -> float:
    """Seconds from time 0 to the end of the sequence's last frame (0.0 without frames)."""
    if seq.num_frames == 0:
        return 0.0
    return round(float(seq.timestamps[-1]) + 1.0 / float(seq.fps), 6)


def bundled_model_path() -> Path | None:
    """Path of the bundled default model (``nfbl/models/nfbl_default.onnx``), or None."""
    return _package_model_file(BUNDLED_MODEL)


def bundled_checkpoint_path() -> Path | None:
    """Path of the bundled model's training checkpoint (``nfbl/models/nfbl_default.pt``), or None."""
    return _package_model_file(BUNDLED_CHECKPOINT)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x)
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1.0
    np.reciprocal(out, out=out)
    return out


class DenseDetector:
    """What every NFBL detector offers, whatever runs the network: :meth:`predict` (chunked
    dense inference, :mod:`nfbl.exports.chunks`), :meth:`detect` (a sequence → events) and
    :meth:`stream` (online). Subclasses provide :meth:`run`, one network call on one chunk:
    :class:`Detector` (onnxruntime) here, :class:`nfbl.detectors.adapter.TorchDetector`
    (a torch model, for validation during training) on the torch side."""

    def __init__(self, card: ModelCard, window: int | None = None):
        self.card = card
        w = int(window or card.window)
        self.window = -(-w // card.stride) * card.stride
        self.overlap = card.overlap
        self.num_joints = card.layout_def.num_joints

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One network call on ``x`` ``(T, V, 3)`` (no chunking): probs ``(T, C)``, offsets
        ``(T, C, 2)`` (frames)."""
        raise NotImplementedError

    @property
    def model_tag(self) -> str:
        """``name@version``: what events record as their producing model."""
        return f"{self.card.name}@{self.card.version}"

    # -- dense inference
    def _check(self, x: np.ndarray, frame0: int = 0) -> np.ndarray:
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[1:] != (self.num_joints, 3):
            raise NfblError(f"model input must have shape (T, {self.num_joints}, 3) (layout "
                            f"{self.card.layout}), got {arr.shape}")
        bad = ~np.isfinite(arr)
        if bad.any():
            frame = frame0 + int(np.argmax(bad.reshape(len(arr), -1).any(axis=1)))
            raise NfblError(f"model input contains NaN or inf (first at frame {frame}); mark "
                            f"missing joints with score 0 instead")
        return arr

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalised keypoints ``(T, V, 3)`` → ``probs`` ``(T, C)`` in [0, 1] and
        ``offsets`` ``(T, C, 2)`` frames, chunked (see the module docstring)."""
        arr = self._check(x)
        t, c = arr.shape[0], self.card.num_classes
        arch = self.card.architecture if isinstance(self.card.architecture, dict) else {}
        if t == 1 and arch.get("speed_streams"):
            # the speed streams need two frames: a still second frame, dropped afterwards
            return tuple(a[:1] for a in self.predict(np.concatenate([arr, arr])))
        probs = np.zeros((t, c), dtype=np.float32)
        offsets = np.zeros((t, c, 2), dtype=np.float32)
        for in_lo, in_hi, lo, hi in chunk_plan(t, self.window, self.overlap):
            p, o = self.run(np.ascontiguousarray(arr[in_lo:in_hi]))
            if p.shape[-1] != c:
                self.card.check_outputs(int(p.shape[-1]), str(getattr(self, "path", None) or "model"))
            probs[lo:hi] = p[lo - in_lo:hi - in_lo]
            offsets[lo:hi] = o[lo - in_lo:hi - in_lo]
        return probs, offsets

    # -- events
    def decode_config(self, decode: decoding.DecodeConfig | None = None) -> decoding.DecodeConfig:
        return decode if decode is not None else decoding.DecodeConfig.from_dict(self.card.decode)

    def persons(self, seq: PoseSequence, persons: Persons | str | int | Sequence[int] = "interviewee") -> list[int]:
        """Person indices to run (:class:`nfbl.keypoints.tracking.Persons`: ``"interviewee"``,
        ``"all"`` or explicit indices)."""
        return Persons.parse(persons).resolve(seq)

    def detect(self, seq: PoseSequence, persons: Persons | str | int | Sequence[int] = "interviewee",
               decode: decoding.DecodeConfig | None = None) -> EventStream:
        """Events of the chosen persons of ``seq`` (track ids from ``seq.track_ids``)."""
        self.card.check_layout(seq.layout)
        cfg = self.decode_config(decode)
        chosen = self.persons(seq, persons)
        events: list[Event] = []
        dropped: list[Event] = []
        detail: list[float | None] = []
        top: list[list] = []
        for p in chosen:
            x, ts = model_input.prepare(seq, p, self.card)
            detail.append(_check_hand_detail(x, self.card.layout, seq.video_id, seq.track_ids[p]))
            probs, offsets = self.predict(x)
            track_cfg = _track_config(cfg, detail[-1], self.card)
            best = _class_maxima(probs, track_cfg)
            top.append([[f"N{self.card.class_ids[j]}", round(float(best[j]), 4)]
                        for j in np.argsort(-best, kind="stable")[:TOP_CLASSES]])
            found = decoding.decode(probs, offsets, ts, self.card.class_ids, track_cfg,
                                    video_id=seq.video_id, track_id=int(seq.track_ids[p]),
                                    model=self.model_tag, fps=self.card.fps)
            if cfg.contact_check:
                found, out = contact.split(found, x, ts, self.card.layout)
                dropped += out
            events += found
        meta = {"model": self.card.name, "model_version": self.card.version,
                "video_id": seq.video_id, "tracks": [int(seq.track_ids[p]) for p in chosen],
                # the video's length as far as the keypoints reach (s, from time 0 to the end
                # of the last frame): event rates and the aggregator's thirds need it, and a
                # video without events still has one (the table ActivityNet files use too)
                "durations": {seq.video_id: video_length(seq)},
                "decode": cfg.to_dict(),
                # per chosen track: share of wrist frames whose hands show more than the
                # fingertips (None: no wrist seen); low values read less well (docs/detector.md)
                "hand_detail": [None if d is None else round(d, 4) for d in detail],
                # per chosen track: the TOP_CLASSES classes with the highest frame probability
                # anywhere in the track, [code, probability], best first; what the model saw
                # most clearly even where no event passed the threshold (clip_scores)
                "top_classes": top}
        if cfg.contact_check:
            # what the check removed (rows of contact.describe; see docs/detector.md)
            meta["contact_check_dropped"] = contact.describe(decoding.sort_events(dropped))
        return EventStream(tuple(events), meta).sorted()

    def clip_scores(self, seq: PoseSequence,
                    persons: Persons | str | int | Sequence[int] = "interviewee",
                    decode: decoding.DecodeConfig | None = None) -> list[np.ndarray]:
        """Clip-level class scores for a short clip that holds one gesture (a trimmed
        recognition sample, e.g. the iMiGUE classification track): per chosen person, float32
        ``(C,)`` in the order of ``card.class_ids``, each class's highest per-frame
        probability over the clip (temporal max pooling), after the decode settings'
        ``class_bias`` and, for a track whose hands are reduced, ``reduced_hands_bias``
        (the same logits :meth:`detect` decodes). The best class is the clip's answer; no
        threshold, no events. With the decode settings' ``contact_check`` (the card's default)
        a contact class whose touch the keypoints rule out around its best frame scores 0
        (as :meth:`detect` drops such an event)."""
        self.card.check_layout(seq.layout)
        cfg = self.decode_config(decode)
        out = []
        for p in self.persons(seq, persons):
            x, ts = model_input.prepare(seq, p, self.card)
            probs, _ = self.predict(x)
            share = model_input.hand_detail(x, skeletons.get_layout(self.card.layout))
            best = _class_maxima(probs, _track_config(cfg, share, self.card))
            if cfg.contact_check and CLIP_CONTACT_CHECK:
                for j in _ruled_out(probs, x, ts, self.card):
                    best[j] = 0.0
            out.append(best)
        return out

    def stream(self, video_id: str = "", track_id: int = 0,
               decode: decoding.DecodeConfig | None = None, layout: str | None = None,
               warmup_frames: int = 50) -> "StreamingDetector":
        """An online detector for one person (see :class:`StreamingDetector`).

        ``layout``: the layout of pixel keypoints given to
        :meth:`StreamingDetector.push_keypoints` (prepared causally by
        :class:`nfbl.exports.model_input.OnlinePreparer` with ``warmup_frames``).
        """
        return StreamingDetector(self, video_id, track_id, decode, layout, warmup_frames)


#: How many classes ``detect`` lists per track in its metadata (``top_classes``).
TOP_CLASSES = 5
#: Whether :meth:`DenseDetector.clip_scores` applies the contact check (see docs/detector.md).
CLIP_CONTACT_CHECK = True


def _ruled_out(probs: np.ndarray, x: np.ndarray, ts: np.ndarray, card: ModelCard) -> list[int]:
    """Columns of contact classes whose touch the keypoints rule out around their best
    frame: the run of frames with at least half the class's best probability, checked as an
    event by :func:`nfbl.keypoints.contact.split`."""
    if not len(probs):
        return []
    step = 1.0 / float(card.fps)
    events = []
    for j, c in enumerate(card.class_ids):
        if c not in contact.CONTACT_KIND:
            continue
        col = probs[:, j]
        t = int(np.argmax(col))
        high = col >= 0.5 * col[t]
        a = t
        while a > 0 and high[a - 1]:
            a -= 1
        b = t
        while b + 1 < len(col) and high[b + 1]:
            b += 1
        events.append(Event(video_id="", class_id=int(c), start=float(ts[a]),
                            end=float(ts[b]) + step, score=float(col[t]), track_id=j))
    dropped = contact.split(events, x, ts, card.layout)[1]
    return [e.track_id for e in dropped]


def _track_config(cfg: decoding.DecodeConfig, share: float | None,
                  card: ModelCard) -> decoding.DecodeConfig:
    """The decode settings for one track whose :func:`model_input.hand_detail` is ``share``:
    with the ``reduced_hands_bias`` when its hands are reduced."""
    return cfg.for_reduced_hands(len(card.class_ids)) if model_input.is_reduced(share) else cfg


def _class_maxima(probs: np.ndarray, cfg: decoding.DecodeConfig) -> np.ndarray:
    """Per class, the highest frame probability of ``probs`` ``(T, C)`` after ``cfg``'s
    ``class_bias``: float32 ``(C,)`` (zeros for T = 0)."""
    if not len(probs):
        return np.zeros(probs.shape[1] if probs.ndim == 2 else 0, np.float32)
    return decoding.apply_class_bias(probs, cfg.class_bias).max(axis=0).astype(np.float32)


def _check_hand_detail(x: np.ndarray, layout: str, video_id: str | None, track: int) -> float | None:
    """:func:`model_input.hand_detail` of one prepared track, with a warning when it is low."""
    share = model_input.hand_detail(x, skeletons.get_layout(layout))
    if model_input.is_reduced(share):
        log.warning("%s track %d: the hands show no joint besides the wrist and fingertips in "
                    "%.0f%% of the frames (MiGA light_hand files, or pose run without a hand "
                    "model such as OpenPose without --hand); a model trained on 21-joint hands, "
                    "as the bundled one is, finds fewer events in such input (docs/detector.md, "
                    "'Sources with fewer hand joints')", video_id or "sequence", int(track),
                    100.0 * (1.0 - share))
    return share


class Detector(DenseDetector):
    """An ONNX NFBL detector and its card. Build with :meth:`load`."""

    def __init__(self, session, card: ModelCard, path: Path | None = None, threads: int = 2,
                 inter_op_threads: int = 1, window: int | None = None):
        super().__init__(card, window)
        self.session = session
        self.path = path
        self.threads = threads
        self.inter_op_threads = inter_op_threads
        self._out_names = [o.name for o in session.get_outputs()]

    # -- loading
    @classmethod
    def load(cls, path: str | Path | None = None, threads: int = 2, inter_op_threads: int = 1,
             window: int | None = None, allow_spinning: bool = False,
             body_only: bool = False) -> "Detector":
        """Load an nfbl ONNX model (None → the bundled default model).

        body_only: accept keypoints without hand joints (COCO-17, Halpe-26, a body-only pose
        run; :meth:`ModelCard.hands_optional`), the CLI's ``--body-only``.

        threads: onnxruntime ``intra_op_num_threads`` (0 = onnxruntime's choice);
        inter_op_threads: ``inter_op_num_threads``; window: frames per chunk (default: the
        card's; rounded up to the card's stride); allow_spinning: let idle onnxruntime
        threads busy-wait (off by default: on shared cores spinning threads steal time from
        the working ones — measured 15.6k vs 20.6k frames/s with 2 threads on a busy box).
        """
        try:
            import onnxruntime as ort
        except ImportError:
            raise NfblError("running the detector needs onnxruntime, a core dependency of "
                            "nfbl that is missing; reinstall nfbl or: pip install onnxruntime") from None
        if path is None:
            found = bundled_model_path()
            if found is None:
                raise NfblError(f"no bundled detector model is installed (nfbl/models/"
                                f"{BUNDLED_MODEL} is missing); pass a model file with --model "
                                f"(export one with: nfbl export CKPT -o model.onnx)")
            path = found
        path = Path(path)
        if not path.is_file():
            raise NfblError(f"{path}: no such model file")
        so = ort.SessionOptions()
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = int(inter_op_threads)
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning",
                                    "1" if allow_spinning else "0")
        so.add_session_config_entry("session.inter_op.allow_spinning",
                                    "1" if allow_spinning else "0")
        try:
            sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            raise NfblError(f"not an nfbl model: {path} is not a readable ONNX file ({first})") from None
        meta = sess.get_modelmeta().custom_metadata_map
        if METADATA_KEY not in meta:
            raise NfblError(f"not an nfbl model: {path} has no '{METADATA_KEY}' model card in its "
                            f"metadata; export models with: nfbl export CKPT -o model.onnx")
        card = ModelCard.from_json(meta[METADATA_KEY], source=str(path))
        inputs = sess.get_inputs()
        if len(inputs) != 1 or inputs[0].name != INPUT_NAME or len(inputs[0].shape) != 4:
            raise NfblError(f"not an nfbl model: {path} does not take one '{INPUT_NAME}' "
                            f"(batch, time, V, 3) input")
        v = inputs[0].shape[2]
        if isinstance(v, int) and v != card.layout_def.num_joints:
            raise NfblError(f"{path}: the model takes {v} joints but its card says layout "
                            f"{card.layout} ({card.layout_def.num_joints} joints)")
        outputs = sess.get_outputs()
        if len(outputs) != 2 or len(outputs[0].shape) != 3:
            raise NfblError(f"not an nfbl model: {path} does not emit (batch, time, classes) "
                            f"scores and offsets")
        c = outputs[0].shape[2]
        card.check_outputs(c if isinstance(c, int) else None, str(path))
        if body_only:
            card = card.hands_optional()
        return cls(sess, card, path, threads, inter_op_threads, window)

    def run(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One onnxruntime call on ``x`` ``(T, V, 3)`` (no chunking): probs, offsets."""
        logits, offsets = self.session.run(self._out_names, {INPUT_NAME: x[None]})
        return _sigmoid(logits[0]), offsets[0]

class StreamingDetector:
    """Online detection for one person: push frames as they arrive, get events as they close.

    ``push(x, timestamps)`` takes ``(t, V, 3)`` model-input frames (already prepared — see
    :func:`nfbl.exports.model_input.prepare`) and their timestamps; ``push_keypoints(kp,
    timestamps)`` takes pixel keypoints of the ``layout`` given to :meth:`Detector.stream`
    and prepares them causally (:class:`nfbl.exports.model_input.OnlinePreparer`). The model runs
    whenever a whole chunk plus its right context is buffered; closed events are returned;
    ``close()`` flushes the rest. ``push`` runs the same chunks as :meth:`Detector.predict`
    on the same inputs, so its events are exactly those of offline decoding of the same
    frames. Memory: one chunk of frames plus the pending candidates (and 8 bytes of
    timestamp per frame, and with the contact check on 28 more per frame: contact distances
    and a copy of the timestamps; the distances are per frame, so the check gives the
    offline result too); latency:
    ``window + overlap`` frames plus the decoder's ``max_duration_s`` (load the detector
    with a smaller ``window`` for less).
    """

    def __init__(self, detector: DenseDetector, video_id: str = "", track_id: int = 0,
                 decode: decoding.DecodeConfig | None = None, layout: str | None = None,
                 warmup_frames: int = 50):
        self.detector = detector
        self.preparer = (None if layout is None else
                         model_input.OnlinePreparer(detector.card, layout, warmup_frames))
        self.card = detector.card
        cfg = detector.decode_config(decode)
        self.decoder = decoding.OnlineDecoder(self.card.class_ids, cfg, self.card.fps, video_id,
                                              track_id, detector.model_tag)
        self._contact = cfg.contact_check
        self._dist: list[dict[str, np.ndarray]] = []   # per pushed part, contact distances
        self._all_ts: list[np.ndarray] = []
        self._buf = np.zeros((0, detector.num_joints, 3), dtype=np.float32)
        self._ts = np.zeros(0, dtype=np.float64)
        self._buf0 = 0          # absolute frame index of _buf[0]
        self._next = 0          # absolute start of the next output chunk
        self._received = 0
        self._closed = False
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._hands_checked = False

    def _join(self) -> None:
        if self._parts:
            self._buf = np.concatenate([self._buf] + [a for a, _ in self._parts])
            self._ts = np.concatenate([self._ts] + [t for _, t in self._parts])
            self._parts = []

    @property
    def frames_received(self) -> int:
        return self._received

    def push(self, x: np.ndarray, timestamps: np.ndarray | Sequence[float]) -> list[Event]:
        """Append frames ``x`` ``(t, V, 3)`` with ``timestamps`` ``(t,)``; return closed events."""
        if self._closed:
            raise NfblError("this stream is closed")
        arr = self.detector._check(x, frame0=self._received)
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if ts.shape != (len(arr),):
            raise NfblError(f"{len(ts)} timestamps for {len(arr)} frames")
        self._parts.append((arr, ts))  # joined lazily: tiny pushes stay cheap
        if self._contact:
            self._dist.append(contact.distances(arr, self.card.layout))
            self._all_ts.append(ts)
        self._received += len(arr)
        return self._checked(self._run(final=False))

    def _checked(self, events: list[Event]) -> list[Event]:
        """``events`` that pass the contact check (all of them when it is off)."""
        if not self._contact or not events:
            return events
        if len(self._dist) > 1:
            self._dist = [{k: np.concatenate([d[k] for d in self._dist]) for k in contact.KINDS}]
            self._all_ts = [np.concatenate(self._all_ts)]
        if not self._dist:
            return events
        return contact.check_events(events, self._dist[0], self._all_ts[0])[0]

    def push_keypoints(self, keypoints: np.ndarray, timestamps: np.ndarray | Sequence[float]) -> list[Event]:
        """Append PIXEL keypoints ``(t, V, 3)`` of the stream's ``layout`` (at the model's
        frame rate), prepared causally (:class:`nfbl.exports.model_input.OnlinePreparer`: frames wait
        for the scale during the warm-up); returns closed events."""
        if self.preparer is None:
            raise NfblError("push_keypoints needs a stream opened with the keypoints' layout: "
                            "Detector.stream(layout=...)")
        if self._closed:
            raise NfblError("this stream is closed")
        x, ts = self.preparer.push(keypoints, timestamps)
        return self.push(x, ts) if len(x) else []

    def close(self) -> list[Event]:
        """End of input: run the remaining chunks and return all still-open events."""
        if self._closed:
            return []
        early: list[Event] = []
        if self.preparer is not None:
            x, ts = self.preparer.flush()
            if len(x):
                early = self.push(x, ts)
        out = early + self._checked(self._run(final=True))
        self._closed = True
        return decoding.sort_events(out + self._checked(self.decoder.finish()))

    def _check_hands(self) -> None:
        """Before the first chunk is decoded: the hands of the frames buffered so far (at
        least one chunk, or all of a shorter stream) decide, as the whole track does offline,
        whether the card's ``reduced_hands_bias`` applies (and warn as offline)."""
        self._hands_checked = True
        share = _check_hand_detail(self._buf, self.card.layout, self.decoder.video_id or "stream",
                                   self.decoder.track_id)
        self.decoder.cfg = _track_config(self.decoder.cfg, share, self.card)

    def _run(self, final: bool) -> list[Event]:
        det, out = self.detector, []
        w, ov, n = det.window, det.overlap, self._received
        while self._next < n:
            in_lo, in_hi, lo, hi = chunk_at(self._next, n, w, ov)
            if not final and (hi < lo + w or in_hi < hi + ov):
                break  # the offline plan would see more frames: wait for them
            self._join()
            if not self._hands_checked:
                self._check_hands()
            a, b = in_lo - self._buf0, in_hi - self._buf0
            p, o = det.run(np.ascontiguousarray(self._buf[a:b]))
            k0, k1 = lo - in_lo, hi - in_lo
            out += self.decoder.push(p[k0:k1], o[k0:k1], self._ts[lo - self._buf0:hi - self._buf0])
            self._next = hi
            keep_from = max(0, self._next - ov) - self._buf0
            if keep_from > 0:
                self._buf, self._ts = self._buf[keep_from:], self._ts[keep_from:]
                self._buf0 += keep_from
        return out
