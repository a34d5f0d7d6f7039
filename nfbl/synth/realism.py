"""Realism report: how far synthetic motion is from real pose of real people.

For real sequences and a synthetic corpus, every sequence is prepared exactly as a detector
sees it (:func:`nfbl.exports.model_input.prepare`: canonical ``nfbl56`` layout, resampled to
25 fps, short gaps filled, neck-centred, divided by the median shoulder width), then
measured. ``synth`` ranks with ``exports`` in the import order, so the caller hands
``prepare`` in (the CLI does; from Python pass
:func:`nfbl.exports.model_input.prepare`). Units: ``sw`` = shoulder widths, seconds, frames at :data:`FPS`.

Statistics (one value per sequence; the report gives the real range and the synthetic
median and range):

- speeds: median wrist / elbow / shoulder / nose speed (sw/s) over frames where the joint is
  present in two consecutive frames;
- jerk: median magnitude of the wrist second difference (sw/frame);
- spectra: share of the wrist-velocity power above 3 Hz (estimator jitter and fast motion)
  and the dominant frequency of wrist motion (Hz, periodogram of the position, 0.2–6 Hz);
- posture: median wrist height below the neck (sw, image down +), median distance from the
  nearer hand to the nose (sw), share of frames with a hand within 0.6 sw of the nose
  (face contact);
- presence and confidence: share of frames with each hand's joints present, with the wrists
  present, mean score of present body and hand joints;
- hand dropout during face contact: among frames with a (body) wrist within 0.9 sw of the
  nose, the share whose hand joints are missing;
- domain classifier: windows of :data:`WINDOW` frames (stride half a window) described by
  features the detector can see (mean and spread of key-joint positions, mean speed and
  second difference, presence and mean score per joint group); a standardised logistic
  regression separates synthetic from real windows, cross-validated with whole sequences
  held out (GroupKFold); the report gives its ROC AUC (0.5 = indistinguishable). Body
  joints that some real file does not have at all (reduced MediaPipe files keep 8 pose
  points) are left out of the classifier's features (:func:`shared_joints`).

numpy + scipy; the classifier needs scikit-learn (the ``extras`` extra).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from nfbl.core import skeletons
from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.core.sequence import PoseSequence

log = logging.getLogger(__name__)

FPS = 25.0
WINDOW = 32
CONTACT_SW = 0.6       # hand centre to nose: a hand at the face
FACE_WRIST_SW = 0.9    # body wrist to nose: a hand near the face (its hand joints may be lost)
LAYOUT = skeletons.CANONICAL


PrepareFn = Callable[[PoseSequence, int, "PrepareSpec"], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class PrepareSpec:
    """The input spec :func:`prepare` follows here (the bundled detector's)."""

    layout: str = LAYOUT.name
    fps: float = FPS
    max_gap: int = 10


#: statistic key → (label, unit)
STATISTICS: dict[str, tuple[str, str]] = {
    "wrist_speed": ("wrist speed", "sw/s"),
    "elbow_speed": ("elbow speed", "sw/s"),
    "shoulder_speed": ("shoulder speed", "sw/s"),
    "nose_speed": ("nose speed", "sw/s"),
    "wrist_jerk": ("wrist second difference", "sw/frame"),
    "wrist_hf_power": ("wrist velocity power above 3 Hz", "share"),
    "wrist_dominant_hz": ("dominant wrist frequency", "Hz"),
    "wrist_below_neck": ("wrist height below the neck", "sw"),
    "hand_face_distance": ("nearer hand to nose", "sw"),
    "face_contact_share": ("frames with a hand at the face", "share"),
    "hand_presence": ("hand joints present", "share"),
    "wrist_presence": ("wrists present", "share"),
    "body_score": ("mean body joint score", "score"),
    "hand_score": ("mean hand joint score", "score"),
    "face_hand_dropout": ("hand missing during face contact", "share"),
}

_I = LAYOUT.index
_WRISTS = [_I["left_wrist"], _I["right_wrist"]]
_ELBOWS = [_I["left_elbow"], _I["right_elbow"]]
_SHOULDERS = [_I["left_shoulder"], _I["right_shoulder"]]
_NOSE = _I["nose"]
_HANDS = [list(LAYOUT.joints_matching("left_hand_")), list(LAYOUT.joints_matching("right_hand_"))]
_BODY = [_I[n] for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
                         "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist")]


def prepared(seq: PoseSequence, prepare: PrepareFn, person: int = 0,
             spec: PrepareSpec = PrepareSpec()) -> np.ndarray:
    """One person of ``seq`` as the detector sees it: ``(T, 56, 3)`` in shoulder widths.

    ``prepare`` is :func:`nfbl.exports.model_input.prepare`."""
    x, _ = prepare(seq, person, spec)
    return x


def _upright_turns(seq: PoseSequence, person: int = 0) -> int:
    """The quarter turns :func:`nfbl.keypoints.cleaning.upright_turns` finds for person
    ``person`` of ``seq`` (the turn ``prepare`` applies; for the report's notes)."""
    from nfbl.keypoints import cleaning
    canon = skeletons.convert(seq.keypoints[person], seq.layout_def, skeletons.CANONICAL)
    x, _ = cleaning.normalize(canon, skeletons.CANONICAL)
    return cleaning.upright_turns(x, skeletons.CANONICAL)


def _speed(x: np.ndarray, joints: list[int], fps: float) -> np.ndarray:
    """Per-frame speeds (sw/s) of ``joints`` where present in both frames; flat array."""
    p = x[:, joints]
    ok = (p[1:, :, 2] > 0) & (p[:-1, :, 2] > 0)
    v = np.linalg.norm(np.diff(p[..., :2], axis=0), axis=-1) * fps
    return v[ok]


def _second_diff(x: np.ndarray, joints: list[int]) -> np.ndarray:
    p = x[:, joints]
    ok = (p[2:, :, 2] > 0) & (p[1:-1, :, 2] > 0) & (p[:-2, :, 2] > 0)
    a = np.linalg.norm(p[2:, :, :2] - 2 * p[1:-1, :, :2] + p[:-2, :, :2], axis=-1)
    return a[ok]


def _median(v: np.ndarray) -> float:
    return float(np.median(v)) if v.size else float("nan")


def _spectrum(x: np.ndarray, fps: float) -> tuple[float, float]:
    """(share of wrist-velocity power above 3 Hz, dominant wrist frequency in 0.2–6 Hz)."""
    hf, dom, weights = [], [], []
    for j in _WRISTS:
        ok = x[:, j, 2] > 0
        if ok.sum() < 16:
            continue
        # longest present run
        idx = np.flatnonzero(ok)
        breaks = np.flatnonzero(np.diff(idx) > 1)
        runs = np.split(idx, breaks + 1)
        run = max(runs, key=len)
        if len(run) < 16:
            continue
        p = x[run, j, :2].astype(np.float64)
        v = np.diff(p, axis=0) * fps
        v = v - v.mean(axis=0)
        f = np.fft.rfftfreq(len(v), 1.0 / fps)
        pw = (np.abs(np.fft.rfft(v, axis=0)) ** 2).sum(-1)
        if pw.sum() > 0:
            hf.append(pw[f > 3.0].sum() / pw.sum())
        q = p - p.mean(axis=0)
        fq = np.fft.rfftfreq(len(q), 1.0 / fps)
        pq = (np.abs(np.fft.rfft(q * np.hanning(len(q))[:, None], axis=0)) ** 2).sum(-1)
        band = (fq >= 0.2) & (fq <= 6.0)
        if band.any() and pq[band].sum() > 0:
            dom.append(fq[band][np.argmax(pq[band])])
        weights.append(len(run))
    if not weights:
        return float("nan"), float("nan")
    return (float(np.mean(hf)) if hf else float("nan"), float(np.median(dom)) if dom else float("nan"))


def sequence_statistics(x: np.ndarray, fps: float = FPS) -> dict[str, float]:
    """Every statistic of :data:`STATISTICS` for one prepared sequence ``(T, 56, 3)``."""
    s: dict[str, float] = {}
    s["wrist_speed"] = _median(_speed(x, _WRISTS, fps))
    s["elbow_speed"] = _median(_speed(x, _ELBOWS, fps))
    s["shoulder_speed"] = _median(_speed(x, _SHOULDERS, fps))
    s["nose_speed"] = _median(_speed(x, [_NOSE], fps))
    s["wrist_jerk"] = _median(_second_diff(x, _WRISTS))
    s["wrist_hf_power"], s["wrist_dominant_hz"] = _spectrum(x, fps)
    w = x[:, _WRISTS]
    wp = w[..., 2] > 0
    s["wrist_below_neck"] = _median(w[..., 1][wp])  # neck at (0, 0), image y down
    nose = x[:, _NOSE]
    hand_pts = []
    hand_present = []
    for side, hj in enumerate(_HANDS):
        h = x[:, hj]
        hp = h[..., 2] > 0
        n = hp.sum(1)
        centre = np.where(n[:, None] > 0, (h[..., :2] * hp[..., None]).sum(1) / np.maximum(n, 1)[:, None],
                          w[:, side, :2])
        has = (n > 0) | wp[:, side]
        hand_pts.append(np.where(has[:, None], centre, np.nan))
        hand_present.append(n > 0)
    hc = np.stack(hand_pts, 1)  # (T, 2, 2)
    d = np.linalg.norm(hc - nose[:, None, :2], axis=-1)
    d[~(nose[:, 2] > 0)] = np.nan
    dmin = np.nanmin(np.where(np.isnan(d), np.inf, d), axis=1)
    dmin[~np.isfinite(dmin)] = np.nan
    s["hand_face_distance"] = float(np.nanmedian(dmin)) if np.isfinite(dmin).any() else float("nan")
    s["face_contact_share"] = float(np.mean(dmin[np.isfinite(dmin)] < CONTACT_SW)) if np.isfinite(dmin).any() else float("nan")
    hpres = np.stack(hand_present, 1)
    s["hand_presence"] = float(hpres.mean())
    s["wrist_presence"] = float(wp.mean())
    body = x[:, _BODY, 2]
    s["body_score"] = float(body[body > 0].mean()) if (body > 0).any() else float("nan")
    hs = x[:, _HANDS[0] + _HANDS[1], 2]
    s["hand_score"] = float(hs[hs > 0].mean()) if (hs > 0).any() else float("nan")
    # hand dropout during face contact: body wrist near the nose, hand joints missing
    dw = np.linalg.norm(w[..., :2] - nose[:, None, :2], axis=-1)
    contact = wp & (nose[:, None, 2] > 0) & (dw < FACE_WRIST_SW)
    s["face_hand_dropout"] = float((~hpres[contact]).mean()) if contact.any() else float("nan")
    return s


# --- domain classifier ------------------------------------------------------------------------

_KEY = _WRISTS + _ELBOWS + _SHOULDERS + [_NOSE, _I["left_hand_middle_mcp"], _I["right_hand_middle_mcp"],
                                         _I["left_hand_index_tip"], _I["right_hand_index_tip"]]
_GROUPS = [_BODY, _HANDS[0], _HANDS[1]]


def window_features(x: np.ndarray, window: int = WINDOW, stride: int | None = None,
                    joints: Sequence[int] | None = None) -> np.ndarray:
    """Features of every window of a prepared sequence: ``(n_windows, F)`` float64.

    Per key joint (``joints``, default all of :data:`_KEY`): mean x, y, their standard
    deviations, mean speed and mean |second difference| over present frames (0 when absent);
    per joint group (those body joints, left hand, right hand): share of present joints and
    their mean score.
    """
    stride = stride or max(window // 2, 1)
    key = list(_KEY if joints is None else joints)
    body = [j for j in _BODY if j in key] or _BODY
    groups = [body, _HANDS[0], _HANDS[1]]
    t = len(x)
    feats = []
    for s0 in range(0, t - window + 1, stride):
        w = x[s0:s0 + window]
        f = []
        for j in key:
            p = w[:, j]
            ok = p[:, 2] > 0
            if ok.sum() >= 3:
                q = p[ok, :2]
                f += [q[:, 0].mean(), q[:, 1].mean(), q[:, 0].std(), q[:, 1].std()]
                both = ok[1:] & ok[:-1]
                v = np.linalg.norm(np.diff(p[:, :2], axis=0), axis=-1)[both]
                f.append(v.mean() if v.size else 0.0)
                tri = ok[2:] & ok[1:-1] & ok[:-2]
                a = np.linalg.norm(p[2:, :2] - 2 * p[1:-1, :2] + p[:-2, :2], axis=-1)[tri]
                f.append(a.mean() if a.size else 0.0)
            else:
                f += [0.0] * 6
        for g in groups:
            sc = w[:, g, 2]
            f.append((sc > 0).mean())
            f.append(sc[sc > 0].mean() if (sc > 0).any() else 0.0)
        feats.append(f)
    return np.asarray(feats, dtype=np.float64).reshape(-1, len(key) * 6 + 2 * len(groups))


def shared_joints(real: Sequence[np.ndarray]) -> list[int]:
    """Key joints to compare: hand joints always; a body joint only if every real sequence
    has it in at least one frame (a reduced file, e.g. MediaPipe with 8 pose points, has no
    head points at all: comparing them would measure the file format, not the motion)."""
    out = []
    for j in _KEY:
        if j in _HANDS[0] or j in _HANDS[1] or all((x[:, j, 2] > 0).any() for x in real):
            out.append(j)
    return out


def feature_names(joints: Sequence[int] | None = None) -> list[str]:
    """Names of the columns of :func:`window_features` (same ``joints``)."""
    key = list(_KEY if joints is None else joints)
    names = [f"{LAYOUT.joints[j]} {what}" for j in key
             for what in ("mean x", "mean y", "spread x", "spread y", "speed", "second difference")]
    for g in ("body", "left hand", "right hand"):
        names += [f"{g} presence", f"{g} mean score"]
    return names


@dataclass(frozen=True)
class DomainResult:
    """What the domain classifier found.

    ``auc``: cross-validated ROC AUC (NaN with fewer than 2 sequences on a side);
    ``per_sequence``: ``(side, name) -> mean out-of-fold probability that the sequence's
    windows are synthetic`` (a real sequence near 1 is one the generator does not resemble);
    ``cues``: the largest standardised weights of the classifier refitted on every window,
    ``(feature, weight)``, positive = more synthetic."""

    auc: float
    real_windows: int
    synthetic_windows: int
    per_sequence: dict[tuple[str, str], float] = field(default_factory=dict)
    cues: list[tuple[str, float]] = field(default_factory=list)


def domain_classifier(real: dict[str, np.ndarray], synthetic: dict[str, np.ndarray], seed: int = 0,
                      max_per_domain: int = 2000, n_cues: int = 8) -> DomainResult:
    """Cross-validated logistic regression telling synthetic from real windows.

    Sequences (dict name -> prepared ``(T, V, 3)``) are kept whole within a fold (GroupKFold,
    up to 5 folds)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import GroupKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
    except ImportError:
        raise MissingDependencyError("scikit-learn", "extras", "The realism report's domain classifier") from None
    rng = np.random.default_rng(seed)
    joints = shared_joints(list(real.values()))
    xs, ys, gs, names = [], [], [], []
    n_side = [0, 0]
    for label, (side, seqs) in enumerate((("real", real), ("synthetic", synthetic))):
        feats = {n: window_features(x, joints=joints) for n, x in seqs.items()}
        feats = {n: f for n, f in feats.items() if len(f)}
        total = sum(len(f) for f in feats.values())
        keep = min(1.0, max_per_domain / max(total, 1))
        for n, f in feats.items():
            if keep < 1.0:
                f = f[rng.random(len(f)) < keep] if len(f) > 1 else f
            if not len(f):
                continue
            xs.append(f)
            ys.append(np.full(len(f), label))
            gs.append(np.full(len(f), len(names)))
            names.append((side, n))
            n_side[label] += 1
    if min(n_side) < 2:
        return DomainResult(float("nan"), 0, 0)
    X, y, g = np.concatenate(xs), np.concatenate(ys), np.concatenate(gs)
    folds = min(5, n_side[0], n_side[1], len(names))

    def model():
        return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000, class_weight="balanced"))

    pred = np.zeros(len(y))
    for tr, te in GroupKFold(n_splits=folds).split(X, y, g):
        if len(np.unique(y[tr])) < 2:
            pred[te] = 0.5
            continue
        pred[te] = model().fit(X[tr], y[tr]).predict_proba(X[te])[:, 1]
    per_seq = {names[k]: float(pred[g == k].mean()) for k in range(len(names))}
    w = model().fit(X, y)[-1].coef_[0]
    order = np.argsort(-np.abs(w))[:n_cues]
    fn = feature_names(joints)
    cues = [(fn[i], float(w[i])) for i in order]
    return DomainResult(float(roc_auc_score(y, pred)), int((y == 0).sum()), int((y == 1).sum()),
                        per_seq, cues)


def domain_auc(real: Sequence[np.ndarray], synthetic: Sequence[np.ndarray], seed: int = 0,
               max_per_domain: int = 2000) -> tuple[float, int, int]:
    """(AUC, real windows, synthetic windows) of :func:`domain_classifier`; AUC is NaN when
    either side has fewer than 2 sequences with a full window."""
    r = domain_classifier({f"r{i}": x for i, x in enumerate(real)},
                          {f"s{i}": x for i, x in enumerate(synthetic)}, seed, max_per_domain)
    return r.auc, r.real_windows, r.synthetic_windows


def shoulder_tilt_deg(x: np.ndarray) -> float:
    """Median angle (degrees, 0 = level) of the shoulder line of a prepared sequence; a person
    lying or a camera turned sideways reads near 90 (NaN without both shoulders)."""
    ls, rs = x[:, _SHOULDERS[0]], x[:, _SHOULDERS[1]]
    ok = (ls[:, 2] > 0) & (rs[:, 2] > 0)
    if not ok.any():
        return float("nan")
    d = ls[ok, :2] - rs[ok, :2]
    return float(np.degrees(np.median(np.abs(np.arctan2(d[:, 1], np.abs(d[:, 0]) + 1e-9)))))


# --- the report -------------------------------------------------------------------------------

@dataclass
class RealismReport:
    """Per-sequence statistics of both sides and the domain-classifier AUC."""

    real: dict[str, dict[str, float]]
    synthetic: dict[str, dict[str, float]]
    auc: float
    real_windows: int
    synthetic_windows: int
    notes: list[str] = field(default_factory=list)
    #: (side, sequence) -> mean out-of-fold probability "synthetic" of its windows
    per_sequence: dict[tuple[str, str], float] = field(default_factory=dict)
    #: the classifier's largest standardised weights (feature, weight; > 0 = synthetic)
    cues: list[tuple[str, float]] = field(default_factory=list)

    def _values(self, side: dict[str, dict[str, float]], key: str) -> np.ndarray:
        v = np.array([s[key] for s in side.values()], dtype=np.float64)
        return v[np.isfinite(v)]

    def rows(self) -> list[dict]:
        """One row per statistic: real min/median/max, synthetic min/median/max, inside."""
        out = []
        for key, (label, unit) in STATISTICS.items():
            r, s = self._values(self.real, key), self._values(self.synthetic, key)
            row = {"key": key, "statistic": label, "unit": unit}
            for name, v in (("real", r), ("synthetic", s)):
                row[name] = ([float(v.min()), float(np.median(v)), float(v.max())] if v.size else None)
            row["inside"] = (None if row["real"] is None or row["synthetic"] is None else
                             bool(row["real"][0] <= row["synthetic"][1] <= row["real"][2]))
            out.append(row)
        return out

    def to_dict(self) -> dict:
        """JSON-ready (NaN → None)."""
        return _clean({"schema": "nfbl.synth.realism", "units": "sw = shoulder widths after nfbl.exports.model_input.prepare",
                "fps": FPS, "window": WINDOW, "statistics": self.rows(),
                "domain_auc": self.auc, "real_windows": self.real_windows,
                "synthetic_windows": self.synthetic_windows,
                "domain_per_sequence": [{"side": k[0], "sequence": k[1], "p_synthetic": v}
                                        for k, v in self.per_sequence.items()],
                "domain_cues": [{"feature": f, "weight": w} for f, w in self.cues],
                "real_sequences": self.real, "synthetic_sequences": self.synthetic, "notes": self.notes})

    def table(self) -> str:
        """The report as a Markdown table (real range, synthetic median and range)."""
        def fmt(v: float) -> str:
            return f"{v:.3g}" if abs(v) >= 0.001 or v == 0 else f"{v:.1e}"

        lines = ["| statistic | unit | real min–max (median) | synthetic median (min–max) | inside |",
                 "| --- | --- | --- | --- | --- |"]
        for row in self.rows():
            r, s = row["real"], row["synthetic"]
            rt = "n/a" if r is None else f"{fmt(r[0])}–{fmt(r[2])} ({fmt(r[1])})"
            st = "n/a" if s is None else f"{fmt(s[1])} ({fmt(s[0])}–{fmt(s[2])})"
            ins = "n/a" if row["inside"] is None else ("yes" if row["inside"] else "**no**")
            lines.append(f"| {row['statistic']} | {row['unit']} | {rt} | {st} | {ins} |")
        auc = "n/a (too few sequences)" if not np.isfinite(self.auc) else f"{self.auc:.3f}"
        lines.append(f"| domain classifier AUC (synthetic vs real windows) | ROC AUC | 0.5 = indistinguishable | "
                     f"{auc} ({self.real_windows} real / {self.synthetic_windows} synthetic windows) | "
                     f"{'n/a' if not np.isfinite(self.auc) else ('yes' if self.auc <= 0.75 else '**no**')} (≤ 0.75) |")
        real_p = sorted(((n, p) for (side, n), p in self.per_sequence.items() if side == "real"),
                        key=lambda kv: -kv[1])
        if real_p:
            lines += ["", "Real sequences the classifier finds least real (mean out-of-fold "
                      "p(synthetic) of their windows; 0.5 = could be either):", ""]
            lines += [f"- {n}: {p:.2f}" for n, p in real_p]
        if self.cues:
            lines += ["", "Largest cues (standardised weight; > 0 = reads synthetic):", ""]
            lines += [f"- {f}: {w:+.2f}" for f, w in self.cues]
        return "\n".join(lines)


def _clean(o):
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def realism_report(real: Iterable[PoseSequence], synthetic: Iterable[PoseSequence], prepare: PrepareFn,
                   seed: int = 0) -> RealismReport:
    """Measure real and synthetic sequences (person 0 of each) and compare them.

    ``prepare``: :func:`nfbl.exports.model_input.prepare` (the detector's preprocessing)."""
    sides: list[dict[str, np.ndarray]] = [{}, {}]
    notes: list[str] = []
    for k, seqs in enumerate((real, synthetic)):
        for seq in seqs:
            name = seq.video_id or f"seq{len(sides[k])}"
            while name in sides[k]:
                name += "_"
            try:
                sides[k][name] = prepared(seq, prepare)
                turns = _upright_turns(seq) if k == 0 else 0
                if turns:
                    notes.append(f"{name}: the person lies {'upside down' if turns == 2 else 'on their side'} "
                                 f"in the stored frames (a video stored turned); the detector's "
                                 f"preprocessing turns it upright ({90 * turns} degrees), so it is "
                                 f"measured upright")
            except NfblError as exc:
                notes.append(f"skipped {name}: {exc}")
                log.warning("realism: skipped %s: %s", name, exc)
    if not sides[0]:
        raise NfblError("the realism report needs at least one readable real sequence (--real)")
    if not sides[1]:
        raise NfblError("the realism report needs at least one synthetic sequence")
    stats = [{n: sequence_statistics(x) for n, x in s.items()} for s in sides]
    for name, x in sides[0].items():
        tilt = shoulder_tilt_deg(x)
        if np.isfinite(tilt) and tilt > 45:
            notes.append(f"{name}: the shoulder line is {tilt:.0f} degrees from level (person or "
                         "camera turned sideways); its motion is not comparable with an upright "
                         "seated person's")
    dom = domain_classifier(sides[0], sides[1], seed=seed)
    return RealismReport(stats[0], stats[1], dom.auc, dom.real_windows, dom.synthetic_windows, notes,
                         dom.per_sequence, dom.cues)


def synthetic_sequences(n_videos: int = 6, minutes: float = 1.0, seed: int = 0, config=None) -> list[PoseSequence]:
    """A small synthetic corpus generated on the fly (video ``i`` uses seed ``(seed, i)``)."""
    from dataclasses import replace

    from nfbl.synth.corpus import SynthConfig, generate_video

    config = replace(config or SynthConfig(), minutes=float(minutes))
    return [generate_video(config, seed=(seed, i), video_id=f"synth_{i:04d}")[0] for i in range(n_videos)]


def read_sequences(paths: Iterable[str | Path]) -> list[PoseSequence]:
    """Read every keypoint file named (folders: every file whose format nfbl can tell)."""
    from nfbl.core.errors import InputFormatError
    from nfbl.io.keypoints import guess_format, read_keypoints

    out: list[PoseSequence] = []
    for p in map(Path, paths):
        if not p.exists():
            raise NfblError(f"{p}: no such file or folder")
        files = [p]
        if p.is_dir():
            try:
                guess_format(p)  # an OpenPose folder is one sequence
            except InputFormatError:
                files = sorted(q for q in p.rglob("*") if q.is_file() and q.name != "corpus.json"
                               and not q.name.endswith((".events.jsonl", ".imigue.csv", ".md", ".txt")))
        for f in files:
            if f.is_file() and f is not p:
                try:
                    guess_format(f)
                except InputFormatError:
                    continue
            got = read_keypoints(f)
            out.extend(got if isinstance(got, list) else [got])
    if not out:
        raise NfblError(f"no keypoint files found in {', '.join(map(str, paths))}")
    return out
