"""Supervised video-level emotion baselines on the aggregator's feature vector.

Two classifiers (scikit-learn, imported lazily; it is in the ``extras`` extra):

* ``logreg`` — standardisation + logistic regression (``class_weight="balanced"``). Saved as
  plain JSON (means, scales, coefficients): loading and predicting need numpy only and run no
  code from the file.
* ``gboost`` — gradient boosting. It has no safe plain-data form here, so it is saved only as a
  pickle (``.pkl``), and pickles are untrusted code: :func:`load_model` refuses them unless the
  caller passes ``trust_pickle=True`` (``--trust-pickle``).

Cross-validation is stratified by label, and grouped by subject when the label table gives
subject ids (no subject in both a training and a test fold). Metrics: accuracy and macro-F1
from :func:`nfbl.metrics.scores.emotion_metrics`.
"""
from __future__ import annotations

import csv
import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from nfbl.core.errors import InputFormatError, MissingDependencyError, NfblError
from nfbl.core.atomic import atomic_open, atomic_path
from nfbl.prompts.aggregate import FEATURE_NAMES, FEATURES_VERSION

log = logging.getLogger(__name__)

CLASSIFIERS = ("logreg", "gboost")
MODEL_FORMAT = "nfbl.emotion.logreg"
MODEL_VERSION = 1
_WIN = {"win", "won", "w", "1", "positive"}
_LOSE = {"lose", "lost", "loss", "l", "0", "negative"}


@dataclass(frozen=True)
class VideoLabel:
    """The emotion label of one video and, when known, its subject (for grouped CV)."""

    video_id: str
    label: str
    subject_id: str | None = None


def imigue_label(win_or_lose: str, where: str = "") -> str:
    """iMiGUE's ``win_or_lose`` → ``positive`` (win) / ``negative`` (lose)."""
    v = str(win_or_lose).strip().lower()
    if v in _WIN:
        return "positive"
    if v in _LOSE:
        return "negative"
    raise NfblError(f"{where}win_or_lose value {win_or_lose!r} is neither win nor lose")


def labels_from_meta(meta: Mapping) -> dict[str, VideoLabel]:
    """Video labels from an iMiGUE stream's ``meta["videos"]`` (win/lose → positive/negative)."""
    out = {}
    for vid, info in (meta.get("videos") or {}).items():
        if isinstance(info, Mapping) and info.get("win_or_lose") not in (None, ""):
            subj = info.get("subject_id")
            out[vid] = VideoLabel(vid, imigue_label(info["win_or_lose"], f"video {vid!r}: "),
                                  None if subj in (None, "") else str(subj))
    return out


def read_video_labels(path: str | Path) -> dict[str, VideoLabel]:
    """Read video labels: the iMiGUE label table (columns incl. ``win_or_lose``) or a simple CSV
    with a header ``video,label`` (also ``video_id``; optional ``subject``/``subject_id``)."""
    from nfbl.io.inputs import open_text

    path = Path(path)
    with open_text(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise InputFormatError("label file is empty", path)
    header = [c.strip().lower() for c in rows[0]]
    if "win_or_lose" in header or "label_id" in header:
        from nfbl.io.event_formats import read_events

        labels = labels_from_meta(read_events(path, fmt="imigue").meta)
        if not labels:
            raise InputFormatError("iMiGUE label table has no win_or_lose values", path)
        return labels
    vcol = "video" if "video" in header else "video_id" if "video_id" in header else None
    if vcol is None or "label" not in header:
        raise InputFormatError("label file needs a header 'video,label' (optionally 'subject') "
                               "or must be the iMiGUE label table", path, 1)
    scol = "subject" if "subject" in header else "subject_id" if "subject_id" in header else None
    idx = {c: i for i, c in enumerate(header)}
    out: dict[str, VideoLabel] = {}
    for n, row in enumerate(rows[1:], 2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise InputFormatError(f"expected {len(header)} columns, got {len(row)}", path, n)
        vid, lab = row[idx[vcol]].strip(), row[idx["label"]].strip()
        if not vid or not lab:
            raise InputFormatError("empty video id or label", path, n)
        if vid in out and out[vid].label != lab:
            raise InputFormatError(f"video {vid!r} has two labels ({out[vid].label}, {lab})", path, n)
        subj = row[idx[scol]].strip() if scol else ""
        out[vid] = VideoLabel(vid, lab, subj or None)
    if not out:
        raise InputFormatError("label file has no rows", path)
    return out


# --- data set and cross-validation ----------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """Features ``X (n, F)`` float64, labels ``y (n,)``, subject groups or None, video ids."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None
    video_ids: tuple[str, ...]


def make_dataset(features: Mapping[str, np.ndarray], labels: Mapping[str, VideoLabel]) -> Dataset:
    """Join per-video feature rows with labels (videos without a label are left out, with a
    log message; labelled videos without features are left out too)."""
    vids = [v for v in features if v in labels]
    unlabelled = len(features) - len(vids)
    if unlabelled:
        log.warning("%d video(s) with events have no label and are left out", unlabelled)
    missing = [v for v in labels if v not in features]
    if missing:
        log.warning("%d labelled video(s) have no events in the input, e.g. %r; left out",
                    len(missing), missing[0])
    if not vids:
        raise NfblError("no video of the event files has a label; check that the video ids of "
                        "the events match those of the label file")
    X = np.stack([np.asarray(features[v], np.float64) for v in vids])
    y = np.array([labels[v].label for v in vids], dtype=object)
    subj = [labels[v].subject_id for v in vids]
    groups = np.array(subj, dtype=object) if all(s is not None for s in subj) else None
    return Dataset(X, y, groups, tuple(vids))


def _sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise MissingDependencyError("scikit-learn", "extras",
                                     "the supervised emotion baseline") from None


def make_classifier(kind: str = "logreg", seed: int = 0, C: float = 1.0):
    """A fresh, unfitted scikit-learn estimator for ``kind`` (``logreg`` or ``gboost``);
    ``C`` is the inverse regularisation strength of the logistic regression."""
    _sklearn()
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(
            C=float(C), max_iter=5000, class_weight="balanced", random_state=seed))
    if kind == "gboost":
        from sklearn.ensemble import GradientBoostingClassifier

        return GradientBoostingClassifier(n_estimators=100, max_depth=2, learning_rate=0.1,
                                          subsample=1.0, random_state=seed)
    raise NfblError(f"unknown classifier {kind!r}; use one of {', '.join(CLASSIFIERS)}")


@dataclass(frozen=True)
class CVResult:
    """Cross-validated scores; ``predictions`` are out-of-fold labels per video id."""

    classifier: str
    splitter: str
    n_splits: int
    accuracy: float
    macro_f1: float
    fold_accuracy: tuple[float, ...]
    predictions: dict = field(default_factory=dict)
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"classifier": self.classifier, "splitter": self.splitter, "n_splits": self.n_splits,
                "accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "fold_accuracy": list(self.fold_accuracy), "labels": list(self.labels),
                "predictions": self.predictions}


def cross_validate(data: Dataset, kind: str = "logreg", folds: int = 5, seed: int = 0,
                   C: float = 1.0) -> CVResult:
    """Stratified (and, with subjects, grouped) k-fold CV; the scores pool out-of-fold labels."""
    _sklearn()
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    from nfbl.metrics.scores import emotion_metrics

    classes, counts = np.unique(data.y.astype(str), return_counts=True)
    if len(classes) < 2:
        raise NfblError(f"need at least two different labels to train, got only {classes.tolist()}")
    n_splits = min(int(folds), int(counts.min()))
    if data.groups is not None:
        n_splits = min(n_splits, len(set(data.groups.tolist())))
    if n_splits < 2:
        raise NfblError(f"too few labelled videos for cross-validation (smallest label has "
                        f"{int(counts.min())} video(s)); need at least 2 per label"
                        + (" and 2 subjects" if data.groups is not None else ""))
    if data.groups is not None:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = splitter.split(data.X, data.y.astype(str), data.groups)
        name = "StratifiedGroupKFold(subject)"
    else:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        splits = splitter.split(data.X, data.y.astype(str))
        name = "StratifiedKFold"
    oof = np.empty(len(data.y), dtype=object)
    fold_acc = []
    for train, test in splits:
        if len(set(data.y[train].tolist())) < 2:
            raise NfblError("a training fold holds only one label; use fewer --folds")
        model = make_classifier(kind, seed, C).fit(data.X[train], data.y[train].astype(str))
        pred = model.predict(data.X[test])
        oof[test] = pred
        fold_acc.append(float(np.mean(pred == data.y[test].astype(str))))
    m = emotion_metrics(data.y.astype(str).tolist(), oof.astype(str).tolist())
    return CVResult(kind, name, n_splits, m.accuracy, m.macro_f1, tuple(fold_acc),
                    {v: str(p) for v, p in zip(data.video_ids, oof)}, m.labels)


def subset(data: Dataset, video_ids) -> Dataset:
    """The rows of ``data`` whose video is in ``video_ids`` (order kept)."""
    keep = set(video_ids)
    idx = [i for i, v in enumerate(data.video_ids) if v in keep]
    return Dataset(data.X[idx], data.y[idx], None if data.groups is None else data.groups[idx],
                   tuple(data.video_ids[i] for i in idx))


def protocol_split(data: Dataset, protocol: str) -> tuple[Dataset, Dataset]:
    """(train, test) rows of ``data`` under a built-in protocol (``imigue-emotion``: by video
    id); videos in neither list are left out with a warning."""
    from nfbl.io.datasets import get_protocol, protocol_split as side_of

    proto = get_protocol(protocol)
    groups = {} if data.groups is None else dict(zip(data.video_ids, data.groups.tolist()))
    sides = {v: side_of(proto, v, groups.get(v)) for v in data.video_ids}
    out = [v for v, s in sides.items() if s is None]
    if out:
        log.warning("%d video(s) are in neither split of %s and are left out, e.g. %r",
                    len(out), proto.name, out[0])
    train = subset(data, [v for v, s in sides.items() if s == "train"])
    test = subset(data, [v for v, s in sides.items() if s == "test"])
    return train, test


#: Inverse regularisation strengths tried by :func:`tune_logreg`.
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def tune_logreg(data: Dataset, folds: int = 5, seed: int = 0,
                grid: tuple[float, ...] = C_GRID) -> tuple[float, dict[float, float]]:
    """Choose the logistic regression's ``C`` by cross-validated macro-F1 on ``data`` only
    (pass the training videos: the test videos never take part). Ties go to the stronger
    regularisation. Returns (best C, {C: CV macro-F1})."""
    scores = {}
    for c in grid:
        scores[c] = cross_validate(data, "logreg", folds, seed, C=c).macro_f1
    best = max(grid, key=lambda c: (round(scores[c], 9), -c))
    return best, scores


# --- saved models ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LinearModel:
    """A logistic regression stored as data: ``z = (x - mean) / scale``; logits
    ``z @ coef.T + intercept``; ``coef (1 or C, F)``."""

    classes: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    feature_names: tuple[str, ...] = FEATURE_NAMES
    info: dict = field(default_factory=dict, compare=False)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, len(classes))``."""
        X = np.asarray(X, np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise NfblError(f"model expects {len(self.feature_names)} features, got shape {X.shape}")
        logits = ((X - self.mean) / self.scale) @ self.coef.T + self.intercept
        if self.coef.shape[0] == 1:
            p1 = 1.0 / (1.0 + np.exp(-logits[:, 0]))
            return np.stack([1.0 - p1, p1], axis=1)
        logits = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return np.array(self.classes, dtype=object)[np.argmax(self.predict_proba(X), axis=1)]


def linear_model_from_sklearn(pipeline, info: dict | None = None) -> LinearModel:
    """Convert a fitted ``StandardScaler + LogisticRegression`` pipeline to :class:`LinearModel`."""
    scaler, lr = pipeline[0], pipeline[-1]
    return LinearModel(classes=tuple(str(c) for c in lr.classes_), mean=np.asarray(scaler.mean_, float),
                       scale=np.asarray(scaler.scale_, float), coef=np.asarray(lr.coef_, float),
                       intercept=np.asarray(lr.intercept_, float), info=dict(info or {}))


def fit(data: Dataset, kind: str = "logreg", seed: int = 0, info: dict | None = None,
        C: float = 1.0):
    """Fit on all of ``data``: a :class:`LinearModel` (logreg) or a scikit-learn estimator."""
    model = make_classifier(kind, seed, C).fit(data.X, data.y.astype(str))
    return linear_model_from_sklearn(model, info) if kind == "logreg" else model


def save_model(model, path: str | Path) -> Path:
    """Write a :class:`LinearModel` as JSON, or (any other estimator) a pickle to a ``.pkl``."""
    path = Path(path)
    if isinstance(model, LinearModel):
        if path.suffix.lower() != ".json":
            raise NfblError(f"{path}: a logistic regression model is saved as JSON; use a .json name")
        doc = {"format": MODEL_FORMAT, "version": MODEL_VERSION,
               "features_version": FEATURES_VERSION, "feature_names": list(model.feature_names),
               "classes": list(model.classes), "mean": model.mean.tolist(),
               "scale": model.scale.tolist(), "coef": model.coef.tolist(),
               "intercept": model.intercept.tolist(), "info": model.info}
        with atomic_open(path) as fh:
            json.dump(doc, fh, indent=1)
            fh.write("\n")
        return path
    if path.suffix.lower() != ".pkl":
        raise NfblError(f"{path}: a gradient boosting model can only be saved as a pickle; use "
                        "a .pkl name (loading it later needs --trust-pickle)")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        pickle.dump({"format": "nfbl.emotion.sklearn", "features_version": FEATURES_VERSION,
                     "feature_names": list(FEATURE_NAMES), "model": model}, fh)
    return path


def load_model(path: str | Path, trust_pickle: bool = False):
    """Load a saved model. JSON needs nothing; a pickle is refused unless ``trust_pickle``."""
    path = Path(path)
    if path.suffix.lower() == ".pkl":
        if not trust_pickle:
            raise NfblError(f"{path}: refusing to load a pickle (it can run arbitrary code); "
                            "pass --trust-pickle only if you made this file yourself")
        _sklearn()
        with open(path, "rb") as fh:
            doc = pickle.load(fh)  # noqa: S301 - explicitly trusted by the caller
        if not isinstance(doc, dict) or doc.get("format") != "nfbl.emotion.sklearn":
            raise InputFormatError("not an nfbl emotion model pickle", path)
        _check_features(doc.get("feature_names"), doc.get("features_version"), path)
        return doc["model"]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputFormatError(f"invalid JSON ({exc.msg})", path, exc.lineno) from None
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise InputFormatError(f"not an nfbl emotion model (format {MODEL_FORMAT!r})", path)
    if int(doc.get("version", 0)) > MODEL_VERSION:
        raise InputFormatError(f"model version {doc.get('version')} is newer than this nfbl", path)
    _check_features(doc.get("feature_names"), doc.get("features_version"), path)
    try:
        model = LinearModel(classes=tuple(map(str, doc["classes"])),
                            mean=np.asarray(doc["mean"], np.float64),
                            scale=np.asarray(doc["scale"], np.float64),
                            coef=np.atleast_2d(np.asarray(doc["coef"], np.float64)),
                            intercept=np.atleast_1d(np.asarray(doc["intercept"], np.float64)),
                            info=dict(doc.get("info") or {}))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputFormatError(f"emotion model is incomplete or malformed ({exc})", path) from None
    f = len(FEATURE_NAMES)
    if model.mean.shape != (f,) or model.scale.shape != (f,) or model.coef.shape[1] != f \
            or np.any(model.scale == 0) or not np.all(np.isfinite(model.coef)):
        raise InputFormatError("emotion model arrays have the wrong shape or values", path)
    return model


def _check_features(names, version, path: Path) -> None:
    if version != FEATURES_VERSION or list(names or []) != list(FEATURE_NAMES):
        raise InputFormatError(f"model was trained on feature set v{version}, this nfbl computes "
                               f"v{FEATURES_VERSION}; retrain it", path)


def predict(model, X: np.ndarray) -> np.ndarray:
    """Labels ``(n,)`` from either kind of model."""
    return np.asarray(model.predict(np.asarray(X, np.float64)), dtype=object)
