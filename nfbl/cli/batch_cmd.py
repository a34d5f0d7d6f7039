"""``nfbl batch``: run the detector over an archive of videos and keypoint files on Ray.

``add_batch_arguments(parser)`` and ``run_batch_command(args)`` are shared with
``nfbl detect VIDEOS_OR_GLOBS... --out DIR`` (same options, same behaviour).
Exit status: 0 when every item is ok or skipped, 1 when at least one item failed (the others
still finished), 2 for a usage error (missing input, Ray missing, bad model).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nfbl.cli.argtypes import nonneg_int, positive_float, positive_int


def add_batch_arguments(parser: argparse.ArgumentParser, inputs: bool = True,
                        shared: bool = True) -> None:
    """Add the batch options to ``parser``.

    inputs: also the positional ``INPUT...``. shared: also the options a single-video
    command may already have (``-o``, ``--model``, ``--stride``, ``--persons``,
    ``--timeline``, ``--threads``); with ``shared=False`` only ``--out`` (no ``-o``),
    ``--workers``, ``--ray-address``, ``--retry-failed/--no-retry``, ``--max-retries`` and
    ``--item-timeout`` are added, and :func:`run_batch_command` takes the others from the
    namespace when there.
    """
    if inputs:
        parser.add_argument("inputs", nargs="+", metavar="INPUT",
                            help="videos, keypoint files, folders or globs (quote globs: "
                                 "'archive/**/*.mp4')")
    g = parser.add_argument_group("batch (Ray)")
    out_flags = ("-o", "--out") if shared else ("--out",)
    g.add_argument(*out_flags, dest="out", required=shared, metavar="DIR",
                   help="output folder: <id>.events.jsonl per item and manifest.jsonl")
    g.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="CPUs of the local Ray (default: all CPUs); with --ray-address: at "
                        "most N tasks at once")
    g.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="use an existing Ray cluster: 'auto', 'ray://HOST:10001' or "
                        "'HOST:6379' (default: start a local Ray)")
    g.add_argument("--retry-failed", dest="retry_failed", action="store_true", default=True,
                   help="re-run items that failed before (default)")
    g.add_argument("--no-retry", dest="retry_failed", action="store_false",
                   help="skip items that failed before")
    g.add_argument("--max-retries", type=nonneg_int, default=2, metavar="N",
                   help="times Ray re-runs a task whose worker process died (default 2)")
    g.add_argument("--item-timeout", type=positive_float, default=None, metavar="S",
                   help="cancel an item still running after S seconds (recorded as failed; "
                        "default: no limit)")
    if not shared:
        return
    g.add_argument("--model", default=None, metavar="M.onnx",
                   help="ONNX detector (default: the bundled model); every worker must be "
                        "able to read it")
    g.add_argument("--stride", type=positive_int, default=1, metavar="K",
                   help="videos: pose on every K-th frame, interpolated in between")
    g.add_argument("--persons", choices=("interviewee", "all"), default="interviewee",
                   help="whose events: the interviewee (default) or every person")
    g.add_argument("--timeline", action="store_true",
                   help="also write <id>.timeline.png per item")
    g.add_argument("--threads", type=positive_int, default=1, metavar="N",
                   help="onnxruntime threads per task (default 1; one task per CPU)")
    g.add_argument("--body-only", action="store_true",
                   help="keypoint files without hand joints (COCO-17, Halpe-26) are run as "
                        "reduced-hand tracks instead of failing (far fewer events found)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch", help="detect events in many videos / keypoint files on Ray (local or cluster)",
        description="One Ray task per video or keypoint file; outputs written atomically; a "
                    "manifest (JSON Lines) records each item; re-running skips finished items "
                    "and retries failed ones. Needs Ray: pip install 'nfbl[cluster]'. "
                    "See docs/batch.md.")
    add_batch_arguments(p)
    p.add_argument("--bench", nargs="*", type=positive_int, default=None, metavar="WORKERS",
                   help="benchmark instead: run the inputs in-process serially, then on a "
                        "fresh local Ray with each WORKERS count (default: 1 2), into fresh "
                        "sub-folders of --out; prints throughput and Ray's per-item overhead")
    p.add_argument("--bench-repeat", type=positive_int, default=3, metavar="R",
                   help="with --bench: repetitions per mode (medians reported; default 3)")
    p.set_defaults(func=_run)


def _config(args: argparse.Namespace, pose=None):
    from nfbl.batch import BatchConfig  # noqa: PLC0415

    model = getattr(args, "model", None)
    persons = getattr(args, "persons", None) or (
        "all" if getattr(args, "all_persons", False) else "interviewee")
    return BatchConfig(workers=args.workers, ray_address=args.ray_address,
                       model=None if model is None else str(model),
                       stride=getattr(args, "stride", 1), persons=persons,
                       retry_failed=args.retry_failed,
                       timeline=bool(getattr(args, "timeline", False)),
                       threads_per_task=getattr(args, "threads", 1) or 1,
                       max_retries=args.max_retries, item_timeout=args.item_timeout,
                       pose=pose, body_only=bool(getattr(args, "body_only", False)))


def run_batch_command(args: argparse.Namespace, pose=None) -> int:
    """Run a batch from parsed arguments (``args.inputs``, ``args.out`` and the options of
    :func:`add_batch_arguments`); ``pose``: an optional :class:`nfbl.pose.pipeline.PoseConfig` for
    video items. Prints a line per finished item (stderr) and the summary table (stdout)."""
    from nfbl.batch import Status, run_batch  # noqa: PLC0415

    check_batch_paths(args)
    cfg = _config(args, pose)
    done = [0]

    def progress(rec) -> None:
        done[0] += 1
        if rec.status is Status.SKIPPED:
            return
        note = f" {rec.error}" if rec.error else ""
        print(f"[{done[0]}] {rec.id}: {rec.status.value}{note}", file=sys.stderr, flush=True)

    summary = run_batch(args.inputs, args.out, cfg, on_record=progress)
    print(summary.table())
    return 0 if summary.ok else 1


def check_batch_paths(args: argparse.Namespace) -> None:
    """Refuse an --out folder that is an input (folder or file) or cannot be written."""
    from nfbl.core.paths import check_outputs  # noqa: PLC0415

    model = getattr(args, "model", None)
    check_outputs(inputs=[*args.inputs, model], out_dirs=[args.out],
                  input_dirs=[p for p in args.inputs if Path(p).is_dir()])


def _run(args: argparse.Namespace) -> int:
    if args.bench is None:
        return run_batch_command(args)
    from nfbl.perf.batch import benchmark  # noqa: PLC0415

    check_batch_paths(args)
    result = benchmark(args.inputs, args.out, _config(args), workers=tuple(args.bench or (1, 2)),
                       repeat=args.bench_repeat)
    print(result.table())
    return 0
