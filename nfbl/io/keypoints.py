"""One entry point for every keypoint format nfbl reads: :func:`read_keypoints`, and the one
table of keypoint formats, :data:`KEYPOINT_FORMATS`, that the CLI, batch discovery and the
datasets ask.

=========== =================================== =================================== ========
format      input                               layout                              fps*
=========== =================================== =================================== ========
openpose    folder of ``*_keypoints.json``      ``openpose_body25_hands`` (67) /   25
                                                ``openpose18_hands`` (60, COCO model)
miga        ``<vid>_light_hand.csv``            ``miga35``                          25
smg         ``<ID>_skeleton.csv``               ``kinect_v2_25``                    30
ntu         NTU RGB+D ``<name>.skeleton``       ``kinect_v2_25``                    30
mmpose      mmpose prediction ``.json``         ``coco17`` / ``coco_wholebody133``  25
kinetics    ST-GCN Kinetics-skeleton ``.json``  ``openpose18`` (told by content)    30
pyskl       pyskl/mmaction2 ``.pkl`` (trusted)  by joint count                      30
stgcn       ST-GCN ``<part>_data.npy``          ``openpose22`` (iMiGUE clips)       25
npz         nfbl ``PoseSequence`` ``.npz``      as saved                            as saved
pose        pose-format ``.pose``               ``openpose_body25_hands`` /         as saved
                                                ``mediapipe_pose33_hands``
pats        PATS interval ``.h5`` (explicit)    ``openpose_body25_hands``           15
=========== =================================== =================================== ========

(*) default when the file carries no frame rate; pass ``fps``.

Adding a format touches two files: a reader module ``nfbl/io/<name>.py`` with a function
``(path, ReadOptions) -> PoseSequence | list[PoseSequence]``, and this file: one
:class:`KeypointFormatSpec` row in :data:`KEYPOINT_FORMATS` (plus, like the rows here, a
three-line adapter that imports the module on first use, so that ``nfbl --help`` and batch
discovery load no reader, numpy or optional dependency). The ``pose`` and ``pats`` rows were added exactly this way (their modules are
``nfbl/io/poseformat.py`` and ``nfbl/io/pats.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.io.inputs import check_input, is_regular_file

if TYPE_CHECKING:  # the readers (and numpy) load on first use: `nfbl --help` stays quick
    from nfbl.core.events import EventStream
    from nfbl.core.sequence import PoseSequence


@dataclass(frozen=True)
class ReadOptions:
    """What a keypoint reader may use besides the path (None: the format's default).

    fps: frames per second; video_id: the video to read (a folder of several OpenPose
    videos) or the id to give; frame_size: (width, height) in pixels when the file has none;
    trust_pickle: allow unpickling (pyskl; the labels of stgcn).
    """

    fps: float | None = None
    video_id: str | None = None
    frame_size: tuple[int, int] | None = None
    trust_pickle: bool = False

    @property
    def size(self) -> dict:
        return {} if self.frame_size is None else {"frame_size": self.frame_size}


@dataclass(frozen=True)
class KeypointFormatSpec:
    """One row of :data:`KEYPOINT_FORMATS`.

    name: ``--format`` value; suffixes: lower-case name endings of its files; read: the
    reader; layout, default_fps: what the docs and ``--help`` say (the reader module owns the
    value it uses); folder_videos: for formats
    stored as a folder of files, ``folder -> {video id: [files]}`` (empty when the folder
    holds none); in_folders: batch discovery picks its files up when scanning a folder
    (False: only when named explicitly — too ambiguous, or untrusted); companion: the path of
    the annotation file that goes with a keypoint file, and read_companion its reader;
    sniff: a test of the first 64 KiB of a file (text) that claims a file whose name ending
    other formats share (``.json``) before the plain ending decides.
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[[Path, ReadOptions], "PoseSequence | list[PoseSequence]"]
    layout: str
    default_fps: float | None
    description: str
    folder_videos: Callable[[Path], Mapping[str, list]] | None = None
    in_folders: bool = True
    companion: Callable[[Path], Path] | None = None
    read_companion: Callable[[Path, PoseSequence], EventStream] | None = None
    sniff: Callable[[str], bool] | None = None

    def match(self, name: str) -> str | None:
        """The suffix of ``name`` that selects this format, or None."""
        low = name.lower()
        return next((s for s in self.suffixes if low.endswith(s)), None)


# --- adapters from the table's call form to each reader (imported on first use) -----------

def _read_openpose(path: Path, o: ReadOptions):
    from nfbl.io import openpose
    return openpose.read_openpose(path, fps=o.fps, video_id=o.video_id, **o.size)


def _openpose_files(folder: Path) -> Mapping[str, list]:
    from nfbl.io import openpose
    return openpose.list_frame_files(folder, image_dir=True)


def _read_miga(path: Path, o: ReadOptions):
    from nfbl.io import miga
    return miga.read_miga(path, fps=o.fps, video_id=o.video_id, **o.size)


def _miga_labels(path: Path) -> Path:
    from nfbl.io import miga
    return miga.label_path_for(path)


def _read_miga_labels(path: Path, seq: "PoseSequence") -> "EventStream":
    from nfbl.io import miga
    return miga.read_miga_labels(path, fps=seq.fps, video_id=seq.video_id)


def _read_smg(path: Path, o: ReadOptions):
    from nfbl.io import smg
    return smg.read_smg(path, fps=o.fps, video_id=o.video_id, **o.size)


def _read_ntu(path: Path, o: ReadOptions):
    from nfbl.io import ntu
    return ntu.read_ntu(path, fps=o.fps, video_id=o.video_id, **o.size)


def _smg_labels(path: Path) -> Path:
    from nfbl.io import smg
    return smg.label_path_for(path)


def _read_smg_labels(path: Path, seq: "PoseSequence") -> "EventStream":
    from nfbl.io import smg
    return smg.read_smg_labels(path, fps=seq.fps, video_id=seq.video_id)


def _read_mmpose(path: Path, o: ReadOptions):
    from nfbl.io import mmpose
    return mmpose.read_mmpose(path, fps=o.fps, video_id=o.video_id, **o.size)


def _read_kinetics(path: Path, o: ReadOptions):
    from nfbl.io import kinetics
    return kinetics.read_kinetics(path, fps=o.fps, video_id=o.video_id, **o.size)


def _sniff_kinetics(head: str) -> bool:
    from nfbl.io import kinetics
    return kinetics.sniff(head)


def _read_alphapose(path: Path, o: ReadOptions):
    from nfbl.io import alphapose
    return alphapose.read_alphapose(path, fps=o.fps, video_id=o.video_id, **o.size)


def _read_yolo(path: Path, o: ReadOptions):
    from nfbl.io import yolo
    return yolo.read_yolo_pose(path, fps=o.fps, video_id=o.video_id, **o.size)


def _yolo_files(folder: Path) -> Mapping[str, list]:
    from nfbl.io import yolo
    return yolo.list_label_files(folder)


def _read_pyskl(path: Path, o: ReadOptions):
    from nfbl.io import pyskl
    return pyskl.read_pyskl(path, trust_pickle=o.trust_pickle, fps=o.fps)


def _read_stgcn(path: Path, o: ReadOptions):
    from nfbl.io import stgcn
    return stgcn.read_stgcn(path, trust_pickle=o.trust_pickle, fps=o.fps)


def _read_npz(path: Path, o: ReadOptions):
    from nfbl.core.sequence import PoseSequence
    seq = PoseSequence.load(path)
    if o.fps is not None and o.fps != seq.fps:
        seq = seq.with_keypoints(seq.keypoints, fps=float(o.fps),
                                 timestamps=(seq.timestamps - seq.timestamps[0]) * seq.fps / o.fps
                                 + seq.timestamps[0])
    return seq


def _read_poseformat(path: Path, o: ReadOptions):
    from nfbl.io import poseformat
    return poseformat.read_poseformat(path, fps=o.fps, video_id=o.video_id,
                                      frame_size=o.frame_size)


def _read_pats(path: Path, o: ReadOptions):
    from nfbl.io import pats
    return pats.read_pats(path, fps=o.fps, video_id=o.video_id, **o.size)


def _npz_events(path: Path) -> Path:
    return path.with_name(path.name[: -len(".npz")] + ".events.jsonl")


def _read_npz_events(path: Path, seq: "PoseSequence") -> "EventStream":
    from nfbl.io.event_formats import read_events
    return read_events(path, fmt="jsonl", fps=seq.fps)


#: Every keypoint format, by name. Name endings are matched longest first, so
#: ``_keypoints.json`` (OpenPose) wins over ``.json`` (mmpose).
KEYPOINT_FORMATS: Mapping[str, KeypointFormatSpec] = {s.name: s for s in (
    KeypointFormatSpec("openpose", ("_keypoints.json",), _read_openpose,
                       "openpose_body25_hands", 25.0,
                       "OpenPose JSON, one file per frame (a folder, or one file)",
                       folder_videos=_openpose_files),
    KeypointFormatSpec("miga", ("_light_hand.csv",), _read_miga, "miga35", 25.0,
                       "MiGA 35-joint skeleton CSV", companion=_miga_labels,
                       read_companion=_read_miga_labels),
    KeypointFormatSpec("smg", ("_skeleton.csv",), _read_smg, "kinect_v2_25", 30.0,
                       "SMG Kinect v2 skeleton CSV (fps from <ID>_data.csv)",
                       companion=_smg_labels, read_companion=_read_smg_labels),
    KeypointFormatSpec("ntu", (".skeleton",), _read_ntu, "kinect_v2_25", 30.0,
                       "NTU RGB+D .skeleton (Kinect v2; colour-image points, un-mirrored)"),
    KeypointFormatSpec("mmpose", (".json",), _read_mmpose, "coco17 / coco_wholebody133", 25.0,
                       "mmpose prediction JSON (2-D)", in_folders=False),
    KeypointFormatSpec("kinetics", (".json",), _read_kinetics, "openpose18", 30.0,
                       "ST-GCN Kinetics-skeleton JSON (one file per video; normalised, "
                       "--frame-size WxH, else 340x256)", in_folders=False,
                       sniff=_sniff_kinetics),
    KeypointFormatSpec("alphapose", ("alphapose-results.json",), _read_alphapose,
                       "coco17 / halpe26 / coco_wholebody133 / halpe136", 25.0,
                       "AlphaPose results JSON (default output; frames from image_id)"),
    KeypointFormatSpec("yolo", tuple(f"{d}.txt" for d in range(10)), _read_yolo, "coco17", 25.0,
                       "Ultralytics YOLO pose labels (save_txt): a folder of "
                       "<video>_<frame>.txt, normalised (needs --frame-size)",
                       folder_videos=_yolo_files, in_folders=False),
    KeypointFormatSpec("pyskl", (".pkl", ".pickle"), _read_pyskl, "by joint count", 30.0,
                       "pyskl/mmaction2 annotation pickle (needs trust)", in_folders=False),
    KeypointFormatSpec("stgcn", ("_data.npy",), _read_stgcn, "openpose22", 25.0,
                       "ST-GCN feeder array (N, 3, T, V, M), the iMiGUE/MiGA classification "
                       "track (labels from <part>_label.pkl with trust)", in_folders=False),
    KeypointFormatSpec("npz", (".npz",), _read_npz, "as saved", None,
                       "nfbl PoseSequence .npz", companion=_npz_events,
                       read_companion=_read_npz_events),
    KeypointFormatSpec("pose", (".pose",), _read_poseformat,
                       "openpose_body25_hands / mediapipe_pose33_hands", None,
                       "pose-format binary (.pose; needs nfbl[poseformat])"),
    KeypointFormatSpec("pats", (".h5", ".hdf5"), _read_pats, "openpose_body25_hands", 15.0,
                       "PATS interval HDF5 (needs nfbl[pats])", in_folders=False),
)}


def format_names() -> tuple[str, ...]:
    return tuple(KEYPOINT_FORMATS)


def parse_format(fmt: "str | KeypointFormatSpec | None") -> KeypointFormatSpec | None:
    """The row named ``fmt`` (None passes through); an unknown name is one clear error."""
    if fmt is None or isinstance(fmt, KeypointFormatSpec):
        return fmt
    spec = KEYPOINT_FORMATS.get(str(fmt).lower())
    if spec is None:
        raise NfblError(f"unknown keypoint format {fmt!r}; choose one of "
                        f"{', '.join(KEYPOINT_FORMATS)}")
    return spec


def match_name(name: str, in_folders: bool = False) -> tuple[KeypointFormatSpec, str] | None:
    """(row, suffix) of the format whose name ending ``name`` has (longest ending wins);
    with ``in_folders`` only formats that folder scans pick up."""
    best = None
    for spec in KEYPOINT_FORMATS.values():
        if in_folders and not spec.in_folders:
            continue
        suf = spec.match(name)
        if suf is not None and (best is None or len(suf) > len(best[1])):
            best = (spec, suf)
    return best


def folder_format(folder: str | Path) -> tuple[KeypointFormatSpec, Mapping[str, list]] | None:
    """The folder format whose files ``folder`` holds, with ``{video id: files}``."""
    for spec in KEYPOINT_FORMATS.values():
        if spec.folder_videos is not None:
            videos = spec.folder_videos(Path(folder))
            if videos:
                return spec, videos
    return None


def guess_format(path: str | Path) -> KeypointFormatSpec:
    """Tell the format from the path (a folder of OpenPose files, or a file's name)."""
    p = Path(path)
    if p.is_dir():
        found = folder_format(p)
        if found is not None:
            return found[0]
        raise InputFormatError("folder holds no OpenPose '*_keypoints.json' or YOLO pose "
                               "'<video>_<frame>.txt' files; pass a file or --format", p)
    m = match_name(p.name)
    if m is None:
        raise InputFormatError("cannot tell the keypoint format from the name; pass --format "
                               f"({', '.join(KEYPOINT_FORMATS)})", p)
    sniffers = [s for s in KEYPOINT_FORMATS.values()
                if s.sniff is not None and s.match(p.name) == m[1]]
    if sniffers and is_regular_file(p):
        head = _head(p)
        for spec in sniffers:
            if spec.sniff(head):
                return spec
    return m[0]


def _head(path: Path, size: int = 65536) -> str:
    """The first ``size`` bytes of a file as text ('' when unreadable)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size).decode("utf-8", errors="replace")
    except OSError:
        return ""


def read_keypoints(path: str | Path, fmt: "str | KeypointFormatSpec | None" = None,
                   trust_pickle: bool = False, fps: float | None = None,
                   video_id: str | None = None,
                   frame_size: tuple[int, int] | None = None) -> "PoseSequence | list[PoseSequence]":
    """Read keypoints in any supported format (guessed from ``path`` when ``fmt`` is None).

    Returns one PoseSequence, or a list for pyskl pickles (one per clip). ``fps`` overrides
    the format's default (an ``.npz`` keeps its own unless given). ``trust_pickle`` must be
    True to read a pickle. Anything but a regular file or a folder (a FIFO) is refused.
    """
    path = check_input(path)
    f = parse_format(fmt) or guess_format(path)
    if f.folder_videos is None and path.is_dir():
        raise InputFormatError(f"is a folder; the {f.name} format reads a file", path)
    return f.read(path, ReadOptions(fps, video_id, frame_size, trust_pickle))


def companion_path(path: str | Path, fmt: "str | KeypointFormatSpec | None" = None) -> Path | None:
    """The annotation file that goes with a keypoint file, if the format has one and it
    exists: MiGA ``<vid>_label.csv``, SMG ``<ID>_finelabels.csv``, nfbl
    ``<vid>.events.jsonl``. (OpenPose/iMiGUE labels live in one table for all videos.)"""
    path = Path(path)
    f = parse_format(fmt) or guess_format(path)
    if f.companion is None:
        return None
    cand = f.companion(path)
    return cand if is_regular_file(cand) else None


def read_companion_events(path: str | Path, seq: "PoseSequence",
                          fmt: "str | KeypointFormatSpec | None" = None) -> "EventStream | None":
    """Events of the annotation companion of ``path`` (see :func:`companion_path`), with
    frame numbers converted at ``seq.fps`` and the video id of ``seq``; None if none."""
    f = parse_format(fmt) or guess_format(path)
    comp = companion_path(path, f)
    if comp is None or f.read_companion is None:
        return None
    return f.read_companion(comp, seq)
