"""ELAN ``.eaf`` event files (pympi-ling): read any tier whose values name NFBL classes (or
mapped by the user), write overlapping events on separate tiers. Listed in
:data:`nfbl.io.event_formats.EVENT_FORMATS`."""
from __future__ import annotations

import logging
import math
import mimetypes
import os
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

from nfbl.core.atomic import atomic_path
from nfbl.core.errors import InputFormatError, MissingDependencyError
from nfbl.core.events import EventStream
from nfbl.io.event_common import ReadOptions
from nfbl.io.tiers import (TRACK_TIER_RE, Tier, events_from_tiers, label_counts, lanes,
                           track_tier_name, value_of)

log = logging.getLogger(__name__)

_EAF_VIDEO_PROP = "nfbl_video_id"


def _pympi():
    try:
        import pympi  # noqa: PLC0415
    except ImportError:
        raise MissingDependencyError("pympi-ling", "extras", "Reading/writing ELAN .eaf files") from None
    return pympi


def _open(path: Path):
    pympi = _pympi()
    try:
        return pympi.Elan.Eaf(str(path))
    except Exception as exc:  # pympi raises bare XML/parse errors
        raise InputFormatError(f"not a readable ELAN file ({exc.__class__.__name__}: {exc})", path) from None


def eaf_labels(path: Path, o: ReadOptions) -> Counter:
    """Annotation value → number of annotations with a time (those the reader can turn
    into events), over every tier."""
    return label_counts(_timed_tiers(_open(path), path)[0])


def _slot_times(eaf) -> dict[str, float | None]:
    """Time slot → milliseconds. Unaligned slots (no TIME_VALUE; ELAN's time subdivision
    and included-in tiers make them) are placed as ELAN proposes them: evenly between the
    aligned slots around them along their tier's chain of annotations; a slot with no
    aligned slot on one side stays None."""
    times: dict[str, float | None] = {k: (None if v is None else float(v))
                                       for k, v in eaf.timeslots.items()}
    for aligned, _, _, _ in eaf.tiers.values():
        nxt = {a[0]: a[1] for a in aligned.values()}
        for first in set(nxt) - set(nxt.values()):            # the starts of the chains
            chain, seen = [first], {first}
            while chain[-1] in nxt and nxt[chain[-1]] not in seen:
                chain.append(nxt[chain[-1]])
                seen.add(chain[-1])
            known = [i for i, ts in enumerate(chain) if times.get(ts) is not None]
            for i, j in zip(known, known[1:]):
                t0, t1 = times[chain[i]], times[chain[j]]
                for k in range(i + 1, j):
                    if times.get(chain[k]) is None:
                        times[chain[k]] = t0 + (t1 - t0) * (k - i) / (j - i)
    return times


def _sibling_orders(tier: str, refs: dict) -> dict[tuple[str, str], list[str]]:
    """Children of each parent on a symbolic-subdivision tier, in their PREVIOUS_ANNOTATION
    chain order (the first has none); a broken or cyclic chain stops where it breaks."""
    groups: dict[str, list[str]] = {}
    for aid, r in refs.items():
        groups.setdefault(r[0], []).append(aid)
    out = {}
    for parent, kids in groups.items():
        after = {refs[a][2]: a for a in kids if refs[a][2]}
        order = [a for a in kids if not refs[a][2]][:1]
        while order and order[-1] in after and len(order) <= len(kids):
            order.append(after[order[-1]])
        out[(tier, parent)] = order
    return out


def _timed_tiers(eaf, path: Path) -> tuple[list[Tier], int]:
    """Every tier's annotations as ``(start_s, end_s, value)``, and the number left out for
    want of a time. Reference annotations take their parent's span (symbolic association)
    or an equal share of it by their position among their siblings (symbolic subdivision,
    ELAN's interpolated "virtual" times); pympi's ``get_annotation_data_for_tier`` gives
    every subdivision child the whole parent span."""
    slots = _slot_times(eaf)
    spans: dict[str, tuple[float | None, float | None]] = {}
    order_of: dict[tuple[str, str], list[str]] = {}     # (tier, parent) → children in order

    def subdivides(tier: str) -> bool:
        ltype = eaf.tiers[tier][2].get("LINGUISTIC_TYPE_REF")
        return (eaf.linguistic_types.get(ltype, {}).get("CONSTRAINTS") or "") == "Symbolic_Subdivision"

    def span(aid: str, depth: int = 0) -> tuple[float | None, float | None]:
        if aid in spans:
            return spans[aid]
        tier = eaf.annotations.get(aid)
        if tier is None or depth > 50:                      # a dangling or cyclic reference
            return None, None
        aligned, refs = eaf.tiers[tier][0], eaf.tiers[tier][1]
        if aid in aligned:
            out = slots.get(aligned[aid][0]), slots.get(aligned[aid][1])
        else:
            parent = refs[aid][0]
            start, end = span(parent, depth + 1)
            if subdivides(tier) and start is not None and end is not None:
                order = order_of.get((tier, parent))
                if order is None:
                    order_of.update(_sibling_orders(tier, refs))
                    order = order_of.get((tier, parent), [])
                if aid in order:
                    k, n = order.index(aid), len(order)
                    start, end = start + (end - start) * k / n, start + (end - start) * (k + 1) / n
            out = start, end
        spans[aid] = out
        return out

    tiers: list[Tier] = []
    missing = 0
    for tier, (aligned, refs, _, _) in eaf.tiers.items():
        labels = []
        for aid in list(aligned) + list(refs):
            start, end = span(aid)
            value = aligned[aid][2] if aid in aligned else refs[aid][1]
            if start is None or end is None:
                missing += 1
                continue
            labels.append((start / 1000.0, end / 1000.0, str(value)))
        tiers.append((tier, labels))
    return tiers, missing


def read_eaf(path: Path, o: ReadOptions) -> EventStream:
    eaf = _open(path)
    vid = o.video_id
    if vid is None:
        props = list(getattr(eaf, "properties", []) or [])
        vid = next((v for k, v in props if k == _EAF_VIDEO_PROP), None) or path.stem
    tiers, missing = _timed_tiers(eaf, path)
    tracks, subjects = _participant_tracks(eaf)
    origin = _time_origin(eaf, path)
    if origin:
        log.info("%s: the video's TIME_ORIGIN is %g ms: added to every annotation", path, origin)
        tiers = [(t, [(a + origin / 1000.0, b + origin / 1000.0, v) for a, b, v in labels])
                 for t, labels in tiers]
    events = events_from_tiers(path, vid, tiers, o, tracks)
    meta = {"subjects": {vid: subjects}} if subjects else {}
    video = _linked_video(eaf)
    if video is not None:
        meta["media"] = {vid: video}
    if missing:
        log.warning("%s: %d annotation(s) without a time (unaligned slots at the end of a "
                    "chain, or a broken reference) skipped", path, missing)
    return EventStream(tuple(events), meta).sorted()


def _participant_tracks(eaf) -> tuple[dict[str, int], dict[str, str]]:
    """(tier → track id, track id → participant) from ELAN's ``PARTICIPANT``. nfbl's own
    ``NFBL track <id>`` tiers keep their id (and name its participant); tiers without a
    participant share track 0; every other participant gets the lowest id not taken, the
    same one for all of its tiers."""
    ids: dict[str, int] = {}               # participant → track
    subjects: dict[str, str] = {}
    taken: set[int] = set()
    others = []
    for tier, (aligned, refs, attrs, _) in eaf.tiers.items():
        who = (attrs.get("PARTICIPANT") or "").strip()
        own = TRACK_TIER_RE.match(tier)
        if own:
            taken.add(int(own.group(1)))
            if who:
                ids.setdefault(who, int(own.group(1)))
                subjects[own.group(1)] = who
        elif who:
            others.append((tier, who))
        elif aligned or refs:
            taken.add(0)
    tracks: dict[str, int] = {}
    for tier, who in others:
        if who not in ids:
            k = 0
            while k in taken:
                k += 1
            ids[who] = k
            taken.add(k)
            subjects[str(k)] = who
        tracks[tier] = ids[who]
    return tracks, subjects


def _time_origin(eaf, path: Path) -> float:
    """TIME_ORIGIN (ms) of the first linked video (else of the first linked file): the media
    time at the annotations' zero (ELAN's offset of a linked file), so video time =
    annotation time + origin."""
    media = list(getattr(eaf, "media_descriptors", []) or [])
    video = [m for m in media if str(m.get("MIME_TYPE", "")).startswith("video")] or media
    if not video or not video[0].get("TIME_ORIGIN"):
        return 0.0
    try:
        origin = float(video[0]["TIME_ORIGIN"])
    except (TypeError, ValueError):
        origin = float("nan")
    if not math.isfinite(origin):
        log.warning("%s: TIME_ORIGIN %r of %s is not a number; ignored", path,
                    video[0]["TIME_ORIGIN"], video[0].get("MEDIA_URL", "the video"))
        return 0.0
    return origin


def media_of(stream: EventStream, video_id: str) -> str | None:
    """The media file of ``video_id`` that ``stream.meta["media"]`` names (detected videos
    carry their input path there), or None."""
    media = stream.meta.get("media") if isinstance(stream.meta, dict) else None
    path = media.get(video_id) if isinstance(media, dict) else None
    return path if isinstance(path, str) and path else None


_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")
_DRIVE_RE = re.compile(r"^[A-Za-z]:[/\\]")


def _link_media(eaf, media: str, eaf_path: Path) -> None:
    """A MEDIA_DESCRIPTOR as ELAN writes one: the absolute ``file:`` URL, the URL relative to
    the ``.eaf`` file (``./clip.mp4``, ``../videos/clip.mp4``; for a local path only), and a
    MIME type. A URL is linked as it is; a Windows drive path becomes ``file:///D:/...``."""
    name = media.replace("\\", "/").rsplit("/", 1)[-1]
    mime = mimetypes.guess_type(name)[0] or ""
    mime = mime if mime.startswith(("video/", "audio/")) else "video/*"
    if _URL_RE.match(media):
        eaf.add_linked_file(media, mimetype=mime)
        return
    if _DRIVE_RE.match(media):
        eaf.add_linked_file("file:///" + quote(media.replace("\\", "/"), safe="/:"),
                            mimetype=mime)
        return
    target = Path(media).absolute()
    rel = Path(os.path.relpath(target, eaf_path.absolute().parent)).as_posix()
    rel = rel if rel.startswith("../") else "./" + rel
    eaf.add_linked_file(target.as_uri(), relpath=quote(rel, safe="/."), mimetype=mime)


def _linked_video(eaf) -> str | None:
    """The local path of the first linked video (its ``file:`` MEDIA_URL), or None."""
    media = list(getattr(eaf, "media_descriptors", []) or [])
    video = [m for m in media if str(m.get("MIME_TYPE", "")).startswith("video")] or media
    url = str(video[0].get("MEDIA_URL") or "") if video else ""
    parts = urlparse(url)
    if parts.scheme != "file" or not parts.path:
        return None
    path = unquote(parts.path)
    return path[1:] if re.match(r"^/[A-Za-z]:/", path) else path  # file:///D:/x.mp4 → D:/x.mp4


def write_eaf(stream: EventStream, path: Path, fps: float) -> None:
    """Events to an ELAN file: one tier per track (more where events overlap), nfbl's
    ``N16 Folding arms|0.83`` values, the track's subject as PARTICIPANT, and the video
    linked when ``meta["media"]`` names it, so that ELAN opens the file with its video."""
    pympi = _pympi()
    eaf = pympi.Elan.Eaf(author="nfbl")
    eaf.remove_tier("default")
    if stream.video_ids:
        eaf.add_property(_EAF_VIDEO_PROP, stream.video_ids[0])
        media = media_of(stream, stream.video_ids[0])
        if media is not None:
            _link_media(eaf, media, Path(path))
    subjects = stream.meta.get("subjects") if isinstance(stream.meta, dict) else None
    subjects = (subjects or {}).get(stream.video_ids[0], {}) if stream.video_ids else {}
    for track in sorted({e.track_id for e in stream}):
        who = subjects.get(str(track)) if isinstance(subjects, dict) else None
        ms = []
        for e in stream:
            if e.track_id == track:
                s_ms = int(round(e.start * 1000))
                ms.append((s_ms, max(int(round(e.end * 1000)), s_ms + 1), e))
        for k, lane in enumerate(lanes(ms)):
            tier = track_tier_name(track, k)
            eaf.add_tier(tier, part=str(who) if who else None)
            for s_ms, e_ms, e in lane:
                eaf.add_annotation(tier, s_ms, e_ms, value_of(e))
    with atomic_path(path, suffix=".eaf", exists=False) as tmp:
        pympi.Elan.to_eaf(str(tmp), eaf)  # tmp does not exist yet, so pympi makes no *.bak
