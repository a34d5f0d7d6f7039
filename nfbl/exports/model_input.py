"""PoseSequence → detector input: the ONE preprocessing used by training and inference.

:func:`prepare` turns one person of a :class:`~nfbl.core.sequence.PoseSequence` into the float32
``(T', V, 3)`` array an NFBL detector takes (and its per-frame timestamps), following the
model card: layout conversion by joint name, resampling to the model's frame rate, short-gap
interpolation, neck-centred shoulder-width normalisation. numpy only (foundation).
"""
from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from nfbl.keypoints import cleaning, shots
from nfbl.core import skeletons
from nfbl.core.errors import NfblError
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

DEFAULT_MAX_GAP = 10


class InputSpec(Protocol):
    """What :func:`prepare` reads from a model card (a DetectorConfig also fits)."""

    layout: str
    fps: float


def needs_resampling(timestamps: np.ndarray, fps: float, seq_fps: float | None = None,
                     tol: float = 1e-3) -> bool:
    """True unless the frames are already evenly spaced at ``fps`` (relative tolerance)."""
    ts = np.asarray(timestamps, dtype=np.float64)
    if seq_fps is not None and abs(seq_fps - fps) > tol * fps:
        return True
    if len(ts) < 2:
        return False
    return bool(np.max(np.abs(np.diff(ts) * fps - 1.0)) > tol)


def check_finite(x: np.ndarray, where: str = "input") -> None:
    """Raise :class:`NfblError` naming the first frame with NaN/inf; ``x`` is ``(T, ...)``."""
    bad = ~np.isfinite(x)
    if bad.any():
        frame = int(np.argmax(bad.reshape(bad.shape[0], -1).any(axis=1)))
        raise NfblError(f"{where}: keypoints contain NaN or inf (first at frame {frame}); "
                        f"mark missing joints with score 0 instead")


def prepare(seq: PoseSequence, person: int, card: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """One person of ``seq`` → normalised model input.

    Steps: (1) check that the sequence's layout can feed the model (``card.check_layout``,
    an error naming both layouts); (2) take person ``person`` (index into the M axis);
    (3) convert to ``card.layout`` by joint name (missing joints → score 0);
    (4) resample to ``card.fps`` with :func:`nfbl.keypoints.cleaning.resample` when the sequence's
    frame rate differs or its timestamps are not evenly spaced; (5) fill gaps of at most
    ``card.max_gap`` frames (:func:`nfbl.keypoints.cleaning.interpolate_gaps`); (6) normalise
    (:func:`nfbl.keypoints.cleaning.normalize`: neck-centred, divided by the median shoulder width;
    where the camera cuts between shots of different size, :func:`nfbl.keypoints.shots.shot_starts`,
    each shot by its own); (7) turn a person lying sideways or upside down in the image upright
    (:func:`nfbl.keypoints.cleaning.upright_turns`, quarter turns only, with a warning; an
    upright person is never turned); (8) reflect a mirrored person back (their left on the
    image's left with their face seen, :func:`is_mirrored`; with a warning).

    Returns ``x`` float32 ``(T', V, 3)`` and ``timestamps`` float64 ``(T',)`` seconds.
    """
    target = skeletons.get_layout(card.layout)
    if hasattr(card, "check_layout"):
        card.check_layout(seq.layout)
    if not -seq.num_persons <= person < seq.num_persons:
        raise NfblError(f"{seq.video_id or 'sequence'}: person index {person} is out of range "
                        f"(the sequence has {seq.num_persons} person(s))")
    person = person % seq.num_persons
    check_finite(seq.keypoints[person], seq.video_id or "sequence")
    kp = seq.keypoints[person:person + 1]
    if seq.layout != target.name:
        kp = skeletons.convert(kp, seq.layout_def, target)
    one = PoseSequence(kp, target.name, seq.fps, seq.timestamps, seq.frame_size,
                       seq.track_ids[person:person + 1], seq.video_id)
    fps = float(card.fps)
    if needs_resampling(one.timestamps, fps, seq.fps):
        log.info("%s: resampling %g fps -> %g fps", seq.video_id or "sequence", seq.fps, fps)
        one = cleaning.resample(one, fps)
    x = one.keypoints[0]
    max_gap = int(getattr(card, "max_gap", DEFAULT_MAX_GAP))
    if max_gap > 0:
        x = cleaning.interpolate_gaps(x, max_gap=max_gap)
    starts = shots.shot_starts(x, target)
    x_pix = x
    x, norm = cleaning.normalize(x, target)
    scale = norm.scale
    if len(starts):
        x, scale = _per_shot(x, x_pix, float(norm.scale), target, starts, seq.video_id)
    if getattr(card, "global_centre", False):
        x = add_global_centre(x, norm.center, scale, target)
    x = _upright(x, cleaning.upright_turns(x, target), seq.video_id)
    x = _unmirror(x, is_mirrored(x, target), seq.video_id)
    return np.ascontiguousarray(x, dtype=np.float32), one.timestamps.copy()


#: A person whose frames look mirrored in at least this share (:func:`cleaning.mirrored_share`)
#: is reflected back.
MIRROR_SHARE = 0.8


def is_mirrored(x: np.ndarray, target: skeletons.Layout) -> bool:
    """Whether normalised, upright ``x`` ``(T, V, 3)`` shows a mirrored person: their left
    on the image's left, face seen, in :data:`MIRROR_SHARE` of the counted frames."""
    share = cleaning.mirrored_share(x, target)
    return share is not None and share >= MIRROR_SHARE


def _unmirror(x: np.ndarray, mirrored: bool, video_id: str | None) -> np.ndarray:
    """``x`` reflected left-right (x → −x about the centre) when ``mirrored``, with one
    warning; the joint names are kept, so the person then looks as in an ordinary image."""
    if not mirrored:
        return x
    log.warning("%s: the person's left side appears on the image's left while their face is "
                "seen (keypoints of a mirrored image with the subject's own left/right "
                "names?); reflected back before detection", video_id or "sequence")
    return _reflect(x)


def _reflect(x: np.ndarray) -> np.ndarray:
    """Normalised ``x`` ``(..., V, 3)`` reflected about the centre (x → −x); missing joints
    stay (0, 0, 0)."""
    out = np.array(x, dtype=np.float32, copy=True)
    out[..., 0] = np.where(out[..., 2] > 0, -out[..., 0], 0.0)
    return out


def _per_shot(x: np.ndarray, x_pix: np.ndarray, scale: float, target: skeletons.Layout,
              starts: np.ndarray, video_id: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Normalised ``x`` ``(T, V, 3)`` (one ``scale`` for the track) → each camera shot divided
    by its own median shoulder width instead; returns it and the per-frame scale ``(T,)``."""
    frame_scale = shots.shot_scales(x_pix, target, starts)
    if frame_scale is None:
        return x, np.full(len(x), scale)
    out = x.copy()
    out[..., :2] *= (scale / frame_scale)[:, None, None].astype(np.float32)
    log.info("%s: %d camera cut(s) (the person's size jumps at frame(s) %s); each shot is "
             "normalised with its own shoulder width", video_id or "sequence", len(starts),
             ", ".join(str(int(s)) for s in starts[:5]) + (" ..." if len(starts) > 5 else ""))
    return out, frame_scale


def _upright(x: np.ndarray, k: int, video_id: str | None) -> np.ndarray:
    """``x`` turned by ``k`` quarter turns, with one warning when ``k`` is not 0."""
    if k:
        log.warning("%s: the person lies %s in the image (the keypoints come from a video stored "
                    "%s?); turned upright (%d degrees) before detection", video_id or "sequence",
                    "upside down" if k == 2 else "on their side",
                    "upside down" if k == 2 else "sideways", 90 * k)
    return cleaning.turn(x, k)


#: Below this share of wrist frames with inner hand joints, :func:`hand_detail` input counts
#: as reduced (fingertips only, or no hand joints at all).
REDUCED_HANDS_SHARE = 0.05


def is_reduced(share: float | None) -> bool:
    """Whether a track with this :func:`hand_detail` counts as reduced hands."""
    return share is not None and share < REDUCED_HANDS_SHARE


def hand_detail(x: np.ndarray, layout: skeletons.Layout) -> float | None:
    """Share of the frames with a wrist present in which the hand shows more than its wrist
    and fingertips (a knuckle, a middle joint). x: prepared ``(T, V, 3)``. Full hand models
    give most frames; MiGA's ``light_hand`` files (fingertips only) and body-only pose give
    0. None when the layout has no such joints or no wrist is ever present."""
    inner = [i for i, n in enumerate(layout.joints)
             if "_hand_" in n and not n.endswith(("_tip", "_hand_wrist"))]
    wrists = [layout.index[n] for n in ("left_wrist", "right_wrist") if n in layout.index]
    if not inner or not wrists:
        return None
    seen = (x[:, wrists, 2] > 0).any(axis=1)
    if not seen.any():
        return None
    return float((x[seen][:, inner, 2] > 0).any(axis=1).mean())


def add_global_centre(x: np.ndarray, centre: np.ndarray, scale: float | np.ndarray,
                      layout: skeletons.Layout, reference: np.ndarray | None = None) -> np.ndarray:
    """Write whole-body displacement into the centre joint of normalised keypoints.

    Neck-centring sets the centre joint (the neck) to (0, 0) in every frame, which removes
    whole-body motion (leaning, sitting up, shifting in the chair). This puts
    ``(centre[t] - reference) / scale`` there instead, for frames where the centre joint is
    present; ``reference`` defaults to the median centre of those frames. x: ``(T, V, 3)``
    normalised; centre: ``(T, 2)`` pixels; scale: pixels per shoulder width (one number, or
    one per frame ``(T,)`` where camera shots differ). Returns a copy.
    """
    out = np.array(x, dtype=np.float32, copy=True)
    c = layout.index[layout.center]
    has = out[:, c, 2] > 0
    if not has.any():
        return out
    centre = np.asarray(centre, dtype=np.float64)
    ref = np.median(centre[has], axis=0) if reference is None else np.asarray(reference, np.float64)
    per_frame = np.broadcast_to(np.asarray(scale, dtype=np.float64), has.shape)
    out[has, c, :2] = ((centre[has] - ref) / per_frame[has, None]).astype(np.float32)
    return out


def prepare_for_config(seq: PoseSequence, person: int, spec: InputSpec) -> tuple[np.ndarray, np.ndarray]:
    """:func:`prepare` for a model config (anything with ``layout``, ``fps`` and optionally
    ``max_gap``) instead of a card: used by training, identical steps."""
    return prepare(seq, person, spec)


class OnlinePreparer:
    """A causal :func:`prepare` for streaming: pixel keypoints of one person in, model input out.

    Frames must already be at the model's frame rate (no online resampling). Per frame the
    centre is the neck, else the mid-shoulder point, else the last known centre (offline:
    the nearest frame's, which may lie in the future); the scale is the median shoulder
    width over the first ``warmup_frames`` frames that show both shoulders (offline: over
    the whole track); for a ``global_centre`` model the reference centre is the median centre
    of the held-back frames (offline: of the whole track). Frames are held back until the
    scale is known, then flow through with no delay; a sideways or upside-down person is
    turned upright by the quarter turns found in the held-back frames (offline: the whole
    track), and a mirrored person reflected back as those frames show. Gaps are not
    interpolated (offline fills gaps of ``card.max_gap``).
    With no gaps, a constant shoulder width and a centre in every frame, the output equals
    :func:`prepare` exactly.
    """

    def __init__(self, card: InputSpec, layout: str, warmup_frames: int = 50):
        self.target = skeletons.get_layout(card.layout)
        if hasattr(card, "check_layout"):
            card.check_layout(layout)
        self.source = skeletons.get_layout(layout)
        self.fps = float(card.fps)
        self.global_centre = bool(getattr(card, "global_centre", False))
        self._reference: np.ndarray | None = None
        self.warmup_frames = int(warmup_frames)
        self._held: list[np.ndarray] = []
        self._held_ts: list[np.ndarray] = []
        self._widths: list[float] = []
        self._scale: float | None = None
        self._centre: np.ndarray | None = None
        self._turns: int | None = None
        self._mirrored = False
        self._frames = 0
        self._recent: list[float] = []  # log shoulder widths since the scale was fixed or cut
        self._recent_frames: list[int] = []  # ... and their frames (counted from the first pushed)
        self._since_cut = 0  # frames emitted since the scale was fixed or last changed
        self._shot_widths: list[float] | None = None  # widths of a new shot until warmup_frames
        self.cuts: list[int] = []  # frames (counted from the first pushed) where a shot began

    @property
    def scale(self) -> float | None:
        """Pixels per shoulder width once known."""
        return self._scale

    def _emit(self, kp: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre, ok, _ = cleaning.frame_centres(kp, self.target)
        if self._centre is None and ok.any():
            self._centre = centre[int(np.argmax(ok))]  # before the first centre: the first one
        for i in range(len(kp)):
            if ok[i]:
                self._centre = centre[i]
            elif self._centre is not None:
                centre[i] = self._centre
        present = kp[..., 2] > 0
        xy = (kp[..., :2].astype(np.float64) - centre[:, None, :]) / float(self._scale or 1.0)
        out = np.zeros(kp.shape, np.float32)
        out[..., :2] = np.where(present[..., None], xy, 0.0)
        out[..., 2] = np.where(present, kp[..., 2], 0.0)
        if self.global_centre:
            if self._reference is None:
                has = out[:, self.target.index[self.target.center], 2] > 0
                self._reference = np.median(centre[has], axis=0) if has.any() else None
            if self._reference is not None:
                out = add_global_centre(out, centre, float(self._scale or 1.0), self.target,
                                        self._reference)
        if self._turns is None:
            self._turns = cleaning.upright_turns(out, self.target)
            out = _upright(out, self._turns, "stream")
            self._mirrored = is_mirrored(out, self.target)
            return _unmirror(out, self._mirrored, "stream"), ts
        out = cleaning.turn(out, self._turns)
        return (_reflect(out) if self._mirrored else out), ts

    def push(self, keypoints: np.ndarray, timestamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel keypoints ``(t, V_src, 3)`` + timestamps → model input frames ready so far."""
        kp = np.asarray(keypoints, dtype=np.float32)
        ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
        if kp.ndim != 3 or kp.shape[1:] != (self.source.num_joints, 3) or len(ts) != len(kp):
            raise NfblError(f"online keypoints must be (t, {self.source.num_joints}, 3) with one "
                            f"timestamp per frame, got {kp.shape} and {ts.shape[0]} timestamps")
        bad = ~np.isfinite(kp)
        if bad.any():
            frame = self._frames + int(np.argmax(bad.reshape(len(kp), -1).any(axis=1)))
            raise NfblError(f"online keypoints contain NaN or inf (first at frame {frame}); "
                            f"mark missing joints with score 0 instead")
        self._frames += len(kp)
        if self.source is not self.target:
            kp = skeletons.convert(kp, self.source, self.target)
        else:
            kp = kp.copy()
            kp[kp[..., 2] <= 0] = 0.0
        if self._scale is not None:
            first = self._frames - len(kp)
            out, out_ts = [], []
            for a, b in self._follow_shots(kp, first):
                o, t = self._emit(kp[a:b], ts[a:b])
                out.append(o)
                out_ts.append(t)
            return np.concatenate(out), np.concatenate(out_ts)
        self._held.append(kp)
        self._held_ts.append(ts)
        _, _, both = cleaning.frame_centres(kp, self.target)
        self._widths += cleaning.scale_widths(kp, self.target, both).tolist()
        if len(self._widths) >= self.warmup_frames:
            return self.flush()
        return np.zeros((0, self.target.num_joints, 3), np.float32), np.zeros(0)

    def _follow_shots(self, kp: np.ndarray, first: int) -> list[tuple[int, int]]:
        """Watch the shoulder width of ``kp`` (frames ``first`` on) for camera cuts, with the
        tests of :func:`nfbl.keypoints.shots.shot_starts` applied causally: a jump is confirmed
        ``CONFIRM_FRAMES`` frames with both shoulders after it, and the scale then becomes the
        median of those frames (the frames in between keep the old scale: about 1 s of
        delay), and once the new shot has shown ``warmup_frames`` such frames, their median
        (as at the start). Returns the pieces ``[a, b)`` of ``kp`` to emit, the scale
        changing between them."""
        _, _, both = cleaning.frame_centres(kp, self.target)
        widths = np.zeros(len(kp))
        widths[both] = cleaning.scale_widths(kp, self.target, both)
        c = shots.CONFIRM_FRAMES
        pieces, start = [], 0
        for t in np.flatnonzero(both & (widths > 1e-6)):
            if self._shot_widths is not None:  # a new shot's first warmup_frames widths
                self._shot_widths.append(float(widths[t]))
                if len(self._shot_widths) >= self.warmup_frames:
                    pieces.append((start, int(t) + 1))
                    start = int(t) + 1
                    self._scale = float(np.median(self._shot_widths))
                    self._shot_widths = None
            self._recent.append(float(np.log(widths[t])))
            self._recent_frames.append(first + int(t))
            if len(self._recent) > 2 * c + 3:
                del self._recent[:len(self._recent) - 2 * c - 3]
                del self._recent_frames[:len(self._recent_frames) - 2 * c - 3]
            b = self._recent
            j = len(b) - c  # a cut between b[j - 1] and b[j], confirmed by c frames after it
            if j < 3 or self._since_cut + t < shots.MIN_SHOT_FRAMES:
                continue
            jump = np.median(b[j:j + 3]) - np.median(b[j - 3:j])
            if abs(jump) <= np.log(shots.MIN_RATIO):
                continue  # the cheap half of the test first
            if shots.is_cut(jump, np.median(b[j:]) - np.median(b[max(0, j - c):j])):
                pieces.append((start, int(t) + 1))
                start = int(t) + 1
                self._scale = float(np.exp(np.median(b[j:])))
                self._shot_widths = [float(np.exp(v)) for v in b[j:]]
                self.cuts.append(self._recent_frames[j])
                self._since_cut = -(int(t) + 1)
                self._recent = b[j:]
                self._recent_frames = self._recent_frames[j:]
                log.info("stream: camera cut near frame %d; shoulder width now %.1f px",
                         self.cuts[-1], self._scale)
        pieces.append((start, len(kp)))
        self._since_cut += len(kp)
        return [(a, b) for a, b in pieces if b > a]

    def flush(self) -> tuple[np.ndarray, np.ndarray]:
        """Release held-back frames (fixing the scale from what has been seen)."""
        if self._scale is None:
            w = float(np.median(self._widths)) if self._widths else 0.0
            if not w > 1e-6:
                held = np.concatenate(self._held) if self._held else np.zeros((0,) + (
                    self.target.num_joints, 3), np.float32)
                _, norm = cleaning.normalize(held, self.target) if len(held) else (None, None)
                w = float(norm.scale) if norm is not None else 1.0
            self._scale = w
        if not self._held:
            return np.zeros((0, self.target.num_joints, 3), np.float32), np.zeros(0)
        kp, ts = np.concatenate(self._held), np.concatenate(self._held_ts)
        self._held, self._held_ts = [], []
        return self._emit(kp, ts)
