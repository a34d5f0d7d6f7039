"""``python -m nfbl.cli.facesbench``: faces an independent Haar detector still finds after
de-identification; the measuring code is :mod:`nfbl.perf.faces`."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from nfbl.core.errors import NfblError
from nfbl.perf.faces import (__doc__ as PERF_DOC, MEDIA, HaarFaces, _frames, _table, measure, mosaic_check)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m nfbl.cli.facesbench", description=PERF_DOC.split(
        "\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--media", type=Path, default=MEDIA, help="folder with vtest.avi, "
                   "basketball1.png, messi5.jpg (default ../shared/media)")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="seconds of vtest.avi (default 3: the pedestrian of issue 18)")
    p.add_argument("--only", nargs="*", default=None, help="media file names to measure")
    p.add_argument("--mosaic", action="store_true", help="the mosaic check alone")
    p.add_argument("--scales", type=float, nargs="+", default=[1.0, 2.0, 3.0],
                   help="--mosaic: also on the images enlarged this much (bigger faces)")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    names = args.only or ["vtest.avi", "basketball1.png", "messi5.jpg"]
    paths = [args.media / n for n in names]
    missing = [str(q) for q in paths if not q.is_file()]
    if missing:
        raise NfblError(f"media not found: {', '.join(missing)} (pass --media)")
    haar = HaarFaces()
    if args.mosaic:
        import cv2  # noqa: PLC0415
        imgs = [im for q in paths for im in _frames(q, 3.0)[::10]]
        res: object = {f"x{s:g}": mosaic_check(
            [cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC) for im in imgs],
            haar=haar) for s in args.scales}
        print(json.dumps(res))
    else:
        res = [measure(q, args.seconds, haar=haar) for q in paths]
        print(_table(res))
    if args.json:
        from nfbl.core.atomic import atomic_open  # noqa: PLC0415
        with atomic_open(args.json) as fh:
            fh.write(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    from nfbl.cli import run_tool
    sys.exit(run_tool(main, "nfbl facesbench"))
