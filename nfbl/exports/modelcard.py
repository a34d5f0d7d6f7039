"""Model card of an NFBL detector: what it takes, what it emits, how it was made.

A :class:`ModelCard` travels with every exported model (JSON in the ONNX metadata key
``nfbl_card``, and in torch checkpoints). The runtime reads everything it needs from it —
layout, frame rate, classes, chunking, decode defaults — so an ONNX file is self-describing.
numpy/stdlib only (foundation).
"""
from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from nfbl import __version__
from nfbl.core import skeletons, taxonomy
from nfbl.exports.chunks import context_frames
from nfbl.core.errors import NfblError

log = logging.getLogger(__name__)

#: Key of the card in an ONNX model's ``metadata_props``.
METADATA_KEY = "nfbl_card"
CARD_SCHEMA = "nfbl.model_card"
#: The newest card version this nfbl reads. Cards are written as version 1 unless they need
#: version 2 (``global_centre``), so that an older nfbl refuses such a model instead of
#: feeding it the wrong input.
CARD_VERSION = 2

#: Joints (canonical names) a keypoint source must provide for the default detector: the
#: arms and both hand roots. COCO-17 (no hands) fails this check; see :meth:`ModelCard.check_layout`.
DEFAULT_REQUIRED_JOINTS: tuple[str, ...] = (
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist", "left_hand_wrist", "right_hand_wrist")

DEFAULT_NORMALIZATION = (
    "nfbl.exports.model_input.prepare: convert to the model layout by joint name, resample to the "
    "model fps, linearly interpolate gaps of <= max_gap frames, then nfbl.keypoints.cleaning.normalize: "
    "x, y minus the neck (else mid-shoulder) of each frame, divided by the person's median "
    "shoulder width (per camera shot where the person's size jumps at a cut, "
    "nfbl.keypoints.shots); score unchanged; missing joints (0, 0, 0)")

GLOBAL_CENTRE_NORMALIZATION = (
    "; global_centre: the neck joint (where present) then holds the centre's displacement from "
    "the median centre of the person's track, in shoulder widths (streaming: the median over "
    "the warm-up frames)")


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to run and to judge one exported detector.

    Times: ``fps`` in frames/s; ``window``, ``stride`` (chunk alignment = the coarsest feature
    step) and ``receptive_field`` in frames at ``fps``. ``decode``: default
    :class:`nfbl.exports.decoding.DecodeConfig` fields. ``metrics``: held-out numbers (name → value),
    empty for an untrained model. ``architecture``: the DetectorConfig (informational).
    ``test_time_flip``: the graph averages the outputs on the input and its mirror image
    (informational; the runtime does nothing different). ``global_centre``: the model takes
    whole-body displacement in its centre joint, which :func:`nfbl.exports.model_input.prepare`
    provides when this is set (card version 2).
    """

    name: str
    version: str
    layout: str
    fps: float
    class_ids: tuple[int, ...]
    window: int = 4096
    stride: int = 32
    receptive_field: int = 512
    max_gap: int = 10
    normalization: str = DEFAULT_NORMALIZATION
    required_joints: tuple[str, ...] = DEFAULT_REQUIRED_JOINTS
    decode: Mapping[str, Any] = field(default_factory=dict)
    training_data: str = ""
    metrics: Mapping[str, Any] = field(default_factory=dict)
    architecture: Mapping[str, Any] = field(default_factory=dict)
    nfbl_version: str = __version__
    created: str = ""
    notes: str = ""
    class_codes: tuple[str, ...] = ()
    class_names: tuple[str, ...] = ()
    test_time_flip: bool = False
    global_centre: bool = False

    def __post_init__(self) -> None:
        ids = tuple(int(c) for c in self.class_ids)
        object.__setattr__(self, "class_ids", ids)
        for c in ids:
            taxonomy.get(c)
        if not ids or len(set(ids)) != len(ids):
            raise NfblError("model card: class_ids must be a non-empty list of distinct ids")
        object.__setattr__(self, "class_codes", tuple(f"N{c}" for c in ids))
        object.__setattr__(self, "class_names", tuple(taxonomy.get(c).name for c in ids))
        object.__setattr__(self, "required_joints", tuple(self.required_joints))
        object.__setattr__(self, "decode", dict(self.decode))
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "architecture", dict(self.architecture))
        if not self.created:
            object.__setattr__(self, "created",
                               _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        if not (isinstance(self.fps, (int, float)) and self.fps > 0):
            raise NfblError(f"model card: fps must be > 0, got {self.fps!r}")
        for name in ("window", "stride", "receptive_field"):
            if int(getattr(self, name)) < 1:
                raise NfblError(f"model card: {name} must be >= 1")
            object.__setattr__(self, name, int(getattr(self, name)))
        if self.window % self.stride:
            raise NfblError(f"model card: window {self.window} is not a multiple of the "
                            f"stride {self.stride}")
        object.__setattr__(self, "fps", float(self.fps))
        object.__setattr__(self, "global_centre", bool(self.global_centre))
        if self.global_centre and self.normalization == DEFAULT_NORMALIZATION:
            object.__setattr__(self, "normalization",
                               DEFAULT_NORMALIZATION + GLOBAL_CENTRE_NORMALIZATION)

    @property
    def num_classes(self) -> int:
        return len(self.class_ids)

    @property
    def layout_def(self) -> skeletons.Layout:
        try:
            return skeletons.get_layout(self.layout)
        except NfblError:
            raise NfblError(f"the model takes keypoint layout {self.layout!r}, which this nfbl "
                            f"{__version__} does not know; upgrade nfbl") from None

    @property
    def overlap(self) -> int:
        """Context frames on each side of a chunk: the receptive field rounded up to the stride."""
        return context_frames(self.receptive_field, self.stride)

    @property
    def trained(self) -> bool:
        """True when the card reports held-out metrics (an untrained model has none)."""
        return bool(self.metrics)

    # -- checks
    def hands_optional(self) -> "ModelCard":
        """This card without the hand joints among ``required_joints``: keypoints without
        hands (COCO-17, Halpe-26, a body-only pose run) are then accepted and run as tracks
        whose hands are reduced (``decode.reduced_hands_bias``; docs/detector.md, "Sources
        with fewer hand joints"). The CLI's ``--body-only``."""
        return replace(self, required_joints=tuple(j for j in self.required_joints
                                                   if "_hand_" not in j))

    def check_layout(self, layout: str) -> None:
        """Raise :class:`NfblError` naming both layouts if keypoints in ``layout`` cannot feed
        this model: the conversion must provide every joint of ``required_joints``."""
        target = self.layout_def
        try:
            source = skeletons.get_layout(layout)
        except NfblError:
            raise NfblError(f"keypoint layout {layout!r} is unknown, and the model takes "
                            f"{self.layout!r}; known layouts: "
                            f"{', '.join(sorted(skeletons.LAYOUTS))}") from None
        plan = skeletons.plan_conversion(source, target)
        missing = set(plan.missing)
        lacking = [j for j in self.required_joints if j in missing]
        if lacking:
            raise NfblError(
                f"keypoint layout {layout!r} cannot feed model {self.name!r} (layout "
                f"{self.layout!r}): it lacks {', '.join(lacking)}; use a keypoint source with "
                f"body and hands (e.g. coco_wholebody133, mediapipe_pose33_hands, "
                f"openpose_body25_hands)"
                + (", or pass --body-only to run it without hands (far fewer events found)"
                   if all("_hand_" in j for j in lacking) else ""))

    # -- JSON
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return {"schema": CARD_SCHEMA, "card_version": 2 if self.global_centre else 1, **d}

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "model card") -> "ModelCard":
        """Build from a dict; unknown keys (written by newer nfbl) are ignored with a log line."""
        if not isinstance(d, Mapping):
            raise NfblError(f"{source}: the model card is not a JSON object")
        if d.get("schema", CARD_SCHEMA) != CARD_SCHEMA:
            raise NfblError(f"{source}: not an nfbl model card (schema {d.get('schema')!r})")
        cv = d.get("card_version", 1)
        if isinstance(cv, bool) or not isinstance(cv, int):
            raise NfblError(f"{source}: model card field 'card_version' must be an integer, got "
                            f"{cv!r}")
        if cv > CARD_VERSION:
            raise NfblError(f"{source}: model card version {d['card_version']} is newer than this "
                            f"nfbl understands ({CARD_VERSION}); upgrade nfbl")
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        _check_field_types(kw, source)
        extra = set(d) - names - {"schema", "card_version"}
        if extra:
            log.info("%s: ignoring unknown card fields %s", source, sorted(extra))
        for req in ("name", "version", "layout", "fps", "class_ids"):
            if req not in kw:
                raise NfblError(f"{source}: the model card lacks the field {req!r}")
        for k in ("class_ids", "required_joints", "class_codes", "class_names"):
            if k in kw:
                kw[k] = tuple(kw[k])
        try:
            card = cls(**kw)
            from nfbl.exports.decoding import DecodeConfig  # noqa: PLC0415 - sibling module
            DecodeConfig.from_dict(card.decode)   # the decode defaults must be usable
            return card
        except NfblError as exc:
            raise NfblError(f"{source}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise NfblError(f"{source}: bad model card ({exc})") from None

    def check_outputs(self, num_classes: int | None, source: str = "model") -> None:
        """Raise :class:`NfblError` when the graph emits ``num_classes`` scores per frame but
        the card names another number of classes (None: the graph does not say)."""
        if num_classes is not None and num_classes != self.num_classes:
            raise NfblError(f"{source}: the model emits {num_classes} classes per frame but its "
                            f"card lists {self.num_classes} class_ids; the card does not belong "
                            f"to this graph (re-export it with: nfbl export)")

    @classmethod
    def from_json(cls, text: str, source: str = "model card") -> "ModelCard":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NfblError(f"{source}: the model card is not valid JSON ({exc})") from None
        return cls.from_dict(d, source)

    def summary(self) -> str:
        """Human-readable multi-line description (``nfbl model-info``)."""
        lines = [f"model:           {self.name} {self.version} (nfbl {self.nfbl_version}, "
                 f"created {self.created})",
                 f"input:           layout {self.layout}, {self.fps:g} fps, requires "
                 f"{', '.join(self.required_joints)}",
                 f"normalisation:   {self.normalization}",
                 f"chunking:        window {self.window} frames, stride {self.stride}, "
                 f"receptive field {self.receptive_field} frames (overlap {self.overlap})",
                 f"classes ({self.num_classes}): " + ", ".join(
                     f"{c} {n}" for c, n in zip(self.class_codes, self.class_names)),
                 f"decode defaults: {json.dumps(self.decode, sort_keys=True)}",
                 "test-time flip:  " + ("yes (outputs averaged over the keypoints and their "
                                        "mirror image)" if self.test_time_flip else "no"),
                 f"training data:   {self.training_data or '(not stated)'}",
                 "held-out metrics: " + (json.dumps(self.metrics, sort_keys=True)
                                         if self.metrics else "(none: untrained model)")]
        if self.notes:
            lines.append(f"notes:           {self.notes}")
        return "\n".join(lines)


#: expected JSON types of the card fields (checked before the card is built, so that a
#: hand-edited card fails with one line naming the field)
_STR_FIELDS = ("name", "version", "layout", "normalization", "training_data", "nfbl_version",
               "created", "notes")
_INT_FIELDS = ("window", "stride", "receptive_field", "max_gap")
_DICT_FIELDS = ("decode", "metrics", "architecture")
_LIST_FIELDS = ("class_ids", "required_joints", "class_codes", "class_names")


def _kind(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def _check_field_types(kw: dict[str, Any], source: str) -> None:
    """Raise :class:`NfblError` naming the first card field whose JSON type is wrong."""
    def bad(name: str, want: str) -> NfblError:
        return NfblError(f"{source}: model card field {name!r} must be {want}, got "
                         f"{kw[name]!r} ({_kind(kw[name])})")

    for name in _STR_FIELDS:
        if name in kw and not isinstance(kw[name], str):
            raise bad(name, "a string")
    for name in _INT_FIELDS:
        if name in kw and (isinstance(kw[name], bool) or not isinstance(kw[name], int)):
            raise bad(name, "an integer")
    if "fps" in kw and (isinstance(kw["fps"], bool) or not isinstance(kw["fps"], (int, float))):
        raise bad("fps", "a number")
    for name in _DICT_FIELDS:
        if name in kw and not isinstance(kw[name], Mapping):
            raise bad(name, "a JSON object")
    for name in _LIST_FIELDS:
        if name in kw and not isinstance(kw[name], (list, tuple)):
            raise bad(name, "a list")
    ids = kw.get("class_ids", ())
    if any(isinstance(c, bool) or not isinstance(c, int) for c in ids):
        raise bad("class_ids", "a list of integer class ids")
    for name in ("required_joints", "class_codes", "class_names"):
        if any(not isinstance(v, str) for v in kw.get(name, ())):
            raise bad(name, "a list of strings")
    for name in ("test_time_flip", "global_centre"):
        if name in kw and not isinstance(kw[name], bool):
            raise bad(name, "true or false")
    if kw.get("decode"):  # types and ranges by the one strict config helper
        from nfbl.exports.decoding import DecodeConfig  # noqa: PLC0415 - sibling module
        try:
            DecodeConfig.from_dict(kw["decode"], where=f"{source}: model card decode")
        except NfblError as exc:
            msg = str(exc)
            raise NfblError(msg if msg.startswith(source) else f"{source}: model card {msg}") \
                from None
