import pytest

from nfbl.core import taxonomy
from nfbl.core.errors import NfblError


def test_imigue_classes_in_order():
    names = {c.id: c.name for c in taxonomy.CLASSES}
    assert [i for i in taxonomy.IMIGUE_IDS] == list(range(32))
    assert names[0] == "Turtle neck"
    assert names[16] == "Folding arms"
    assert names[24] == "Minaret gesture"
    assert names[30] == "Shaking shoulders"
    assert names[31] == "Illustrative hand gestures"
    assert names[34] == "Touching nose"
    assert 32 not in names and 33 not in names
    assert len(taxonomy.CLASSES) == 33


def test_codes_and_lookup():
    assert taxonomy.get(16).code == "N16"
    assert taxonomy.lookup("N16").id == 16
    assert taxonomy.lookup("folding arms").id == 16
    assert taxonomy.lookup("Dustoffing clothes").id == 17  # iMiGUE's own spelling
    assert taxonomy.lookup("34").name == "Touching nose"


@pytest.mark.parametrize("bad", [32, 33, 35, -1, 99])
def test_unknown_and_reserved_ids_are_errors(bad):
    with pytest.raises(NfblError):
        taxonomy.get(bad)


def test_raw_imigue_ids():
    assert taxonomy.from_imigue_raw(1) == 0
    assert taxonomy.from_imigue_raw(17) == 16
    assert taxonomy.from_imigue_raw(99) == 31
    for cid in range(32):
        assert taxonomy.from_imigue_raw(taxonomy.to_imigue_raw(cid)) == cid
    assert taxonomy.to_imigue_raw(31) == 99
    with pytest.raises(NfblError):
        taxonomy.from_imigue_raw(0)
    with pytest.raises(NfblError):
        taxonomy.to_imigue_raw(34)


def test_face_mesh_classes_are_not_skeleton_visible():
    invisible = {c.id for c in taxonomy.CLASSES if not c.skeleton_visible}
    assert invisible == {1, 28}
    assert 34 in taxonomy.SKELETON_VISIBLE_IDS


def test_smg_mapping_covers_17_classes():
    assert [r for r, _, _ in taxonomy.SMG_CLASSES] == list(range(1, 18))
    assert taxonomy.smg_to_nfbl(3) == 16
    # the table built from real SMG label files (docs/taxonomy.md): 5 = moving legs,
    # 10 = crossing legs (no NFBL counterpart), 8 = rubbing hands and crossing finger
    names = {r: n for r, n, _ in taxonomy.SMG_CLASSES}
    assert names[5] == "Moving legs" and names[10] == "Crossing legs"
    assert names[8] == "Rubbing hands and crossing finger" and taxonomy.smg_to_nfbl(8) == 22
    assert taxonomy.smg_to_nfbl(5) is None and taxonomy.smg_to_nfbl(10) is None
    assert taxonomy.smg_to_nfbl(17) == 31
    with pytest.raises(NfblError):
        taxonomy.smg_to_nfbl(18)


def test_raw_32_is_not_a_valid_imigue_label():
    with pytest.raises(NfblError):
        taxonomy.from_imigue_raw(32)
