"""`nfbl classes` and `nfbl events ...`: the taxonomy and event-stream formats."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from nfbl.cli.argtypes import positive_float

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classes", help="list the NFBL taxonomy")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_classes)

    ev = sub.add_parser("events", help="event-stream files: convert between formats")
    evsub = ev.add_subparsers(dest="events_command", metavar="ACTION")
    c = evsub.add_parser("convert", help="convert an event file to another format")
    c.add_argument("input", help="event file (format from the extension, or --from)")
    c.add_argument("output", help="output file (format from the extension, or --to)")
    c.add_argument("--from", dest="src_format", default=None, help="input format")
    c.add_argument("--to", dest="dst_format", default=None, help="output format")
    c.add_argument("--fps", type=positive_float, default=None,
                   help="frame rate for frame-based formats (iMiGUE, MiGA, SMG) and of the "
                        "output; default: the format's (25; SMG: its _data.csv, else 30); output frames at 25")
    c.add_argument("--video-id", default=None, help="video id for formats that carry none")
    c.add_argument("--subset", default=None,
                   help="ActivityNet ground truth: read only this subset (e.g. validation)")
    c.add_argument("--label-map", default=None, metavar="FILE",
                   help="map labels, ELAN/Praat annotation values or BORIS behaviour codes to NFBL "
                        "classes: JSON {label: class or null} or CSV label,class (class: N16, "
                        "16 or a name)")
    c.add_argument("--tier-map", default=None, metavar="FILE",
                   help="ELAN and Praat: map whole tiers to NFBL classes (same file forms; null skips "
                        "a tier)")
    c.set_defaults(func=_convert)
    lb = evsub.add_parser("labels", help="the labels an annotation file uses (BORIS codes, ELAN "
                          "and Praat values, ActivityNet labels), their NFBL class, and a label-map "
                          "template")
    lb.add_argument("input", help="annotation file (BORIS project or export, ELAN, Praat "
                                  "TextGrid, ActivityNet)")
    lb.add_argument("--from", dest="src_format", default=None, help="input format")
    lb.add_argument("--subset", default=None, help="ActivityNet ground truth: only this subset")
    lb.add_argument("--label-map", default=None, metavar="FILE",
                    help="a label map to check (JSON or CSV, as for convert)")
    lb.add_argument("-o", "--output", default=None, metavar="MAP.json",
                    help="write a label map: every label with its class, null where none "
                         "is known (edit it, then pass it with --label-map)")
    lb.set_defaults(func=_labels)
    ev.set_defaults(func=lambda a: (ev.print_help(), 2)[1])


def _classes(args: argparse.Namespace) -> int:
    from nfbl.core import taxonomy

    rows = taxonomy.table_rows()
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"{'code':<5} {'raw':>3}  {'region':<9} {'skel':<4}  name")
    for r in rows:
        raw = "" if r["imigue_raw"] is None else r["imigue_raw"]
        print(f"{r['code']:<5} {raw:>3}  {r['region']:<9} {'yes' if r['skeleton_visible'] else 'no':<4}"
              f"  {r['name']}{'  [' + str(r['source']) + ']' if r['source'] != 'iMiGUE' else ''}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    from nfbl.core.paths import check_outputs
    from nfbl.io import event_formats as ef

    check_outputs([args.output], [args.input])
    label_map = ef.read_label_map(args.label_map) if args.label_map else None
    tier_map = ef.read_label_map(args.tier_map) if args.tier_map else None
    stream = ef.read_events(args.input, fmt=args.src_format, fps=args.fps, video_id=args.video_id,
                            subset=args.subset, label_map=label_map, tier_map=tier_map)
    if not len(stream):
        log.warning("%s: no events read", args.input)
    out = ef.write_events(stream, args.output, fmt=args.dst_format, fps=args.fps or 25.0)
    print(f"wrote {len(stream)} events to {out}")
    return 0


def _labels(args: argparse.Namespace) -> int:
    from nfbl.core import taxonomy
    from nfbl.core.atomic import atomic_open
    from nfbl.core.paths import check_outputs
    from nfbl.io import event_formats as ef
    from nfbl.io.event_common import resolve_label

    if args.output is not None and not str(args.output).lower().endswith(".json"):
        from nfbl.core.errors import NfblError
        raise NfblError(f"{args.output}: the label-map template is written as JSON (.json)")
    check_outputs([args.output], [args.input, args.label_map])
    label_map = ef.read_label_map(args.label_map) if args.label_map else {}
    counts = ef.label_counts(args.input, fmt=args.src_format, subset=args.subset)
    rows, template = [], {}
    for label, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        known, cid = resolve_label(label, label_map)
        target = (f"N{cid} {taxonomy.get(cid).name}" if cid is not None
                  else "skipped (null in the map)" if known else "-- no NFBL class")
        rows.append((label, n, target))
        template[label] = f"N{cid}" if cid is not None else None
    def shown(label: str) -> str:   # one table line per label, whatever it holds
        return label.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")

    width = min(max([len(shown(r[0])) for r in rows] + [5]), 40)
    print(f"{'label':<{width}} {'count':>6}  NFBL class")
    for label, n, target in rows:
        print(f"{shown(label)[:width]:<{width}} {n:>6}  {target}")
    unmapped = [label for label, _, target in rows if target.startswith("--")]
    print(f"\n{len(rows)} labels, {len(unmapped)} without an NFBL class"
          + ("" if not unmapped else "; they are skipped unless a --label-map names them"))
    if args.output:
        with atomic_open(args.output) as fh:
            json.dump(template, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        print(f"wrote {args.output}")
    return 0
