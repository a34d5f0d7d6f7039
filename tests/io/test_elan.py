"""ELAN files in the layouts ELAN writes (tests/fixtures/events/elan/P04_m1.eaf, EAF 3.0:
attributes in ELAN's order, two participants, a time subdivision with unaligned slots, a
symbolic subdivision written out of order, a symbolic association, two linked media with
time origins)."""
from __future__ import annotations

from pathlib import Path

import pytest

from nfbl.io.event_formats import label_counts, read_events

pytest.importorskip("pympi")
EAF = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "elan" / "P04_m1.eaf"
LABELS = {"scratch head": 3, "fold arms": 16, "rubbing hands": 22}
CHILD_TIERS = {"phase": None, "rubs": None, "hand": None}


def _events(stream):
    return [(e.track_id, e.code, round(e.start, 6), round(e.end, 6)) for e in stream]


def test_participants_are_tracks_and_the_videos_time_origin_is_added():
    """Annotation times + the linked video's TIME_ORIGIN (2000 ms; the audio's 500 ms is not
    the video's); the athlete is track 0, the journalist track 1."""
    s = read_events(EAF, label_map=LABELS, tier_map=CHILD_TIERS)
    assert sorted(_events(s)) == [(0, "N16", 7.0, 11.0), (0, "N22", 12.0, 14.0),
                                  (0, "N3", 3.2, 6.1), (1, "N3", 5.0, 6.0)]
    assert s.meta["subjects"] == {"P04_m1": {"0": "athlete", "1": "journalist"}}


def test_child_tiers_get_elans_times():
    """Time subdivision: the two unaligned slots split 1200..4100 ms evenly; symbolic
    subdivision: four rubs share the parent's 2 s in their PREVIOUS_ANNOTATION order (the
    file lists them 3, 1, 4, 2); symbolic association: the parent's span."""
    s = read_events(EAF, tier_map={"phase": 31, "rubs": 22, "hand": 16, "gesture": None,
                                   "gesture journalist": None})
    third = 2.9 / 3
    assert _events(s) == [
        (0, "N31", 3.2, round(3.2 + third, 6)), (0, "N31", round(3.2 + third, 6),
                                                  round(3.2 + 2 * third, 6)),
        (0, "N31", round(3.2 + 2 * third, 6), 6.1), (0, "N16", 7.0, 11.0),
        (0, "N22", 12.0, 12.5), (0, "N22", 12.5, 13.0), (0, "N22", 13.0, 13.5),
        (0, "N22", 13.5, 14.0)]
    rubs = read_events(EAF, label_map={f"rub {k}": 22 for k in (1, 2, 3, 4)},
                       tier_map={"phase": None, "hand": None, "gesture": None,
                                 "gesture journalist": None})
    assert [e.start for e in rubs] == [12.0, 12.5, 13.0, 13.5]
    assert label_counts(EAF)["scratch head"] == 2 and label_counts(EAF)["rub 3"] == 1


def test_participants_survive_a_round_trip(tmp_path):
    """Written back, each track's tiers carry its participant (ELAN's PARTICIPANT), and a
    re-read keeps tracks and names."""
    from nfbl.io.event_formats import write_events
    pympi = pytest.importorskip("pympi")
    s = read_events(EAF, label_map=LABELS, tier_map=CHILD_TIERS)
    out = tmp_path / "again.eaf"
    write_events(s, out)
    eaf = pympi.Elan.Eaf(str(out))
    assert {t: eaf.tiers[t][2].get("PARTICIPANT") for t in eaf.get_tier_names()} == {
        "NFBL track 0": "athlete", "NFBL track 1": "journalist"}
    back = read_events(out)
    assert sorted(_events(back)) == sorted(_events(s))
    assert back.meta["subjects"] == {"P04_m1": {"0": "athlete", "1": "journalist"}}


def test_participant_tracks_do_not_collide_with_track_0_or_nfbls_own_tiers(tmp_path, caplog):
    pympi = pytest.importorskip("pympi")
    eaf = pympi.Elan.Eaf(author="x")
    eaf.remove_tier("default")
    eaf.add_linked_file("v.mp4", mimetype="video/mp4")
    eaf.media_descriptors[0]["TIME_ORIGIN"] = "soon"
    for tier, who, t in (("NFBL track 0", "Bob", 0), ("Gesture-A", "Alice", 1000),
                         ("Gesture-B", None, 2000), ("Gesture-C", "Bob", 3000)):
        eaf.add_tier(tier, part=who)
        eaf.add_annotation(tier, t, t + 500, "N16")
    path = tmp_path / "p.eaf"
    eaf.to_file(str(path))
    with caplog.at_level("WARNING"):
        s = read_events(path)
    assert "TIME_ORIGIN 'soon'" in caplog.text
    # Bob keeps nfbl's track 0 (and his other tier joins it), the tier without a participant
    # would be track 0 too, so Alice gets the first free id
    assert [(e.track_id, e.start) for e in s] == [(0, 0.0), (0, 2.0), (0, 3.0), (1, 1.0)]
    assert s.meta["subjects"] == {"p": {"0": "Bob", "1": "Alice"}}


def test_the_linked_video_is_read_and_written_as_elan_links_it(tmp_path):
    """meta["media"]: the first linked video's file URL when reading (a Windows drive path
    keeps its drive); when writing, a MEDIA_DESCRIPTOR as ELAN writes one (absolute file URL,
    URL relative to the .eaf, MIME type), so that ELAN opens nfbl's file with its video."""
    import pympi

    from nfbl.core.events import Event, EventStream
    from nfbl.io.event_formats import write_events

    assert read_events(EAF, label_map=LABELS).meta["media"] == {"P04_m1": "D:/press/P04_m1.mp4"}
    video = tmp_path / "videos" / "int 01.mp4"
    out = tmp_path / "coded" / "int01.eaf"
    out.parent.mkdir()
    stream = EventStream((Event("int01", 16, 1.0, 2.5),), {"media": {"int01": str(video)}})
    write_events(stream, out, fmt="eaf")
    (desc,) = pympi.Elan.Eaf(str(out)).media_descriptors
    assert desc["MEDIA_URL"] == video.absolute().as_uri()
    assert desc["RELATIVE_MEDIA_URL"] == "../videos/int%2001.mp4"
    assert desc["MIME_TYPE"] == "video/mp4"
    back = read_events(out)
    assert back.meta["media"] == {"int01": str(video.absolute())}
    assert [(e.code, e.start, e.end) for e in back] == [("N16", 1.0, 2.5)]
    # a stream without media writes no link
    write_events(EventStream(stream.events), out, fmt="eaf")
    assert pympi.Elan.Eaf(str(out)).media_descriptors == []


@pytest.mark.parametrize("media, url, rel", [
    ("D:/press/P04_m1.mp4", "file:///D:/press/P04_m1.mp4", None),   # read from a Windows file
    ("C:\\data\\a b.mp4", "file:///C:/data/a%20b.mp4", None),
    ("https://example.org/v.mp4", "https://example.org/v.mp4", None),
])
def test_media_links_that_are_not_local_paths(tmp_path, media, url, rel):
    import pympi

    from nfbl.core.events import Event, EventStream
    from nfbl.io.event_formats import write_events

    out = tmp_path / "x.eaf"
    write_events(EventStream((Event("v", 16, 1.0, 2.0),), {"media": {"v": media}}), out, fmt="eaf")
    (desc,) = pympi.Elan.Eaf(str(out)).media_descriptors
    assert desc["MEDIA_URL"] == url and desc.get("RELATIVE_MEDIA_URL") == rel
    assert desc["MIME_TYPE"] == "video/mp4"
