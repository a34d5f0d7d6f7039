"""The NFBL class taxonomy: iMiGUE micro-gesture ids N0–N31 plus the EALD extras.

Ids N0–N31 are the iMiGUE classes in their 0-indexed order. Raw iMiGUE/MiGA label files
write ``id + 1`` except raw 99, which is N31 (Illustrative hand gestures). EALD adds ids
from 32 up: N34 is "Touching nose"; N32 and N33 are reserved (their names are unknown).

Each class records the body region it involves and whether a body + hands skeleton (no
face mesh) can see it at all: "Pressing lips" and "Bulging face, deep breath" cannot.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Mapping

from nfbl.core.errors import NfblError


class Region(str, enum.Enum):
    """Body region a gesture involves (used by the aggregator's per-region statistics)."""

    HEAD = "head"
    FACE = "face"
    NECK = "neck"
    TORSO = "torso"
    SHOULDERS = "shoulders"
    ARMS = "arms"
    HANDS = "hands"


@dataclass(frozen=True)
class NFBLClass:
    """One NFBL class.

    ``id`` is the integer used everywhere in nfbl (N<id>); ``skeleton_visible`` says whether
    body + both hands keypoints carry the signal (False: needs the face mesh or audio).
    """

    id: int
    name: str
    region: Region
    skeleton_visible: bool
    source: str = "iMiGUE"

    @property
    def code(self) -> str:
        return f"N{self.id}"


_H, _F, _N, _T, _S, _A, _HA = (Region.HEAD, Region.FACE, Region.NECK, Region.TORSO,
                               Region.SHOULDERS, Region.ARMS, Region.HANDS)

CLASSES: tuple[NFBLClass, ...] = (
    NFBLClass(0, "Turtle neck", _N, True),
    NFBLClass(1, "Bulging face, deep breath", _F, False),
    NFBLClass(2, "Touching hat", _H, True),
    NFBLClass(3, "Touching or scratching head", _H, True),
    NFBLClass(4, "Touching or scratching forehead", _H, True),
    NFBLClass(5, "Covering face", _F, True),
    NFBLClass(6, "Rubbing eyes", _F, True),
    NFBLClass(7, "Touching or scratching facial parts", _F, True),
    NFBLClass(8, "Touching ears", _H, True),
    NFBLClass(9, "Biting nails", _F, True),
    NFBLClass(10, "Touching jaw", _F, True),
    NFBLClass(11, "Touching or scratching neck", _N, True),
    NFBLClass(12, "Playing or adjusting hair", _H, True),
    NFBLClass(13, "Buckle button, pulling shirt collar, adjusting tie", _N, True),
    NFBLClass(14, "Touching or covering suprasternal notch", _N, True),
    NFBLClass(15, "Scratching back", _A, True),
    NFBLClass(16, "Folding arms", _A, True),
    NFBLClass(17, "Dusting off clothes", _T, True),
    NFBLClass(18, "Putting arms behind body", _A, True),
    NFBLClass(19, "Moving torso", _T, True),
    NFBLClass(20, "Sitting straightly", _T, True),
    NFBLClass(21, "Scratching or touching arms", _A, True),
    NFBLClass(22, "Rubbing or holding hands", _HA, True),
    NFBLClass(23, "Crossing fingers", _HA, True),
    NFBLClass(24, "Minaret gesture", _HA, True),
    NFBLClass(25, "Playing or manipulating objects", _HA, True),
    NFBLClass(26, "Hold back arms", _A, True),
    NFBLClass(27, "Head up", _H, True),
    NFBLClass(28, "Pressing lips", _F, False),
    NFBLClass(29, "Arms akimbo", _A, True),
    NFBLClass(30, "Shaking shoulders", _S, True),
    NFBLClass(31, "Illustrative hand gestures", _HA, True),
    NFBLClass(34, "Touching nose", _F, True, source="EALD"),
)

#: Ids that EALD uses but whose names are not published; they are reserved, never emitted.
RESERVED_IDS: frozenset[int] = frozenset({32, 33})

_BY_ID: Mapping[int, NFBLClass] = {c.id: c for c in CLASSES}
_BY_CODE: Mapping[str, NFBLClass] = {c.code: c for c in CLASSES}
_BY_NAME: Mapping[str, NFBLClass] = {c.name.lower(): c for c in CLASSES}

#: iMiGUE's own spelling of N17 ("Dustoffing clothes") is accepted as an alias.
_ALIASES: Mapping[str, int] = {"dustoffing clothes": 17, "bulging face/deep breath": 1}

#: Number of slots in per-class arrays (max id + 1); N32/N33 slots stay empty.
NUM_SLOTS: int = max(_BY_ID) + 1

IMIGUE_IDS: tuple[int, ...] = tuple(range(32))
ALL_IDS: tuple[int, ...] = tuple(c.id for c in CLASSES)
SKELETON_VISIBLE_IDS: tuple[int, ...] = tuple(c.id for c in CLASSES if c.skeleton_visible)


def get(class_id: int) -> NFBLClass:
    """Return the class with this id; unknown or reserved ids raise :class:`NfblError`."""
    try:
        return _BY_ID[int(class_id)]
    except (KeyError, ValueError, TypeError):
        if isinstance(class_id, int) and class_id in RESERVED_IDS:
            raise NfblError(f"class id {class_id} (N{class_id}) is reserved by EALD and has no "
                            "published name; nfbl does not use it") from None
        raise NfblError(f"unknown NFBL class id {class_id!r}; known ids are "
                        f"{ALL_IDS[0]}..{IMIGUE_IDS[-1]} and 34 (see `nfbl classes`)") from None


def is_known(class_id: int) -> bool:
    return class_id in _BY_ID


def lookup(key: int | str) -> NFBLClass:
    """Find a class by id (``16``), code (``"N16"``) or name (case-insensitive)."""
    if isinstance(key, int):
        return get(key)
    text = str(key).strip()
    if text.upper() in _BY_CODE:
        return _BY_CODE[text.upper()]
    if text.isdigit():
        return get(int(text))
    low = text.lower()
    if low in _BY_NAME:
        return _BY_NAME[low]
    if low in _ALIASES:
        return _BY_ID[_ALIASES[low]]
    raise NfblError(f"unknown NFBL class {key!r}; use an id, a code like N16 or a class name")


# --- raw ids of iMiGUE / MiGA label files -------------------------------------------

#: Raw label 99 in iMiGUE/MiGA files stands for N31 (Illustrative hand gestures).
IMIGUE_RAW_ILLUSTRATIVE = 99


def from_imigue_raw(raw: int) -> int:
    """Map a raw iMiGUE/MiGA label (1..31, or 99 for N31) to an NFBL id (0..31)."""
    raw = int(raw)
    if raw == IMIGUE_RAW_ILLUSTRATIVE:
        return 31
    if 1 <= raw <= 31:
        return raw - 1
    raise NfblError(f"raw iMiGUE label {raw} is not valid (raw labels are 1..31 = N0..N30 "
                    "and 99 = N31)")


def to_imigue_raw(class_id: int) -> int:
    """Inverse of :func:`from_imigue_raw`; EALD-only classes have no raw iMiGUE id."""
    class_id = int(class_id)
    if class_id == 31:
        return IMIGUE_RAW_ILLUSTRATIVE
    if 0 <= class_id <= 30:
        return class_id + 1
    raise NfblError(f"class N{class_id} has no iMiGUE raw id (iMiGUE covers N0..N31)")


# --- SMG ------------------------------------------------------------------------------

#: SMG's 17 micro-gesture classes (1-based, as in ``<ID>_finelabels.csv``) and the NFBL id
#: each maps onto, or ``None`` where iMiGUE has no counterpart. The names are the table that
#: a third party built from real SMG label files (gutzcha/human_micro_gesture_classifier,
#: ``miga/const.py``, ``ID2LABELS_SMG``); neither the organisers' code (mikecheninoulu/SMG
#: reads labels as bare integers) nor the SMG paper's text available here gives a table, and
#: the list nfbl shipped before had no source (it matched this one on classes 3 and 17
#: only). Evidence and the mapping choices: docs/taxonomy.md. Pass your own table
#: (``mapping=``) if your copy of SMG says otherwise.
SMG_CLASSES: tuple[tuple[int, str, int | None], ...] = (
    (1, "Turtling neck and shoulder", 0),
    (2, "Rubbing eyes and forehead", 6),
    (3, "Folding arms", 16),
    (4, "Touching or covering suprasternal notch", 14),
    (5, "Moving legs", None),
    (6, "Touching or scratching neck", 11),
    (7, "Folding arms behind body", 18),
    (8, "Rubbing hands and crossing finger", 22),
    (9, "Arms akimbo", 29),
    (10, "Crossing legs", None),
    (11, "Scratching some part of body", None),
    (12, "Scratching or touching facial parts other than eyes", 7),
    (13, "Playing or adjusting hair", 12),
    (14, "Holding arms", 21),
    (15, "Pulling shirt collar", 13),
    (16, "Playing with jewelry, and manipulating other objects", 25),
    (17, "Illustrative hand gestures", 31),
)


def smg_to_nfbl(raw: int, mapping: Iterable[tuple[int, str, int | None]] = SMG_CLASSES) -> int | None:
    """Map a 1-based SMG label to an NFBL id (``None`` = no NFBL counterpart)."""
    table = {r: nid for r, _, nid in mapping}
    if int(raw) not in table:
        raise NfblError(f"SMG label {raw} is outside the 17 SMG classes (1..17)")
    return table[int(raw)]


def table_rows() -> list[dict[str, object]]:
    """The taxonomy as plain rows (for ``nfbl classes`` and the docs)."""
    return [
        {"id": c.id, "code": c.code, "name": c.name, "region": c.region.value,
         "skeleton_visible": c.skeleton_visible, "source": c.source,
         "imigue_raw": to_imigue_raw(c.id) if c.id <= 31 else None}
        for c in CLASSES
    ]
