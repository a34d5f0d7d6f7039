"""`nfbl prompt`, `nfbl emotion` (LLM, train, eval) and `nfbl features`: events → emotion."""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from nfbl.cli.argtypes import int_at_least, nonneg_int, positive_float, positive_int


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("event input")
    g.add_argument("--format", dest="fmt", default=None,
                   help="event file format (jsonl, csv, activitynet, eaf, imigue, imigue-raw, miga, "
                        "boris, boris-export); default: from the file")
    g.add_argument("--label-map", default=None, metavar="FILE",
                   help="map the file's own labels (ELAN values, BORIS behaviour codes, ...) to "
                        "NFBL classes: JSON {label: class or null} or CSV label,class")
    g.add_argument("--fps", type=positive_float, default=None,
                   help="frame rate of frame-based formats (default: the format's, 25 for most)")
    g.add_argument("--duration", type=positive_float, default=None,
                   help="video length in seconds (one video only); default: from the file's "
                        "metadata, else the end of the last event (the prompt says so)")
    g.add_argument("--durations", default=None, metavar="CSV",
                   help="CSV 'video,duration' with the length (s) of each video")
    g.add_argument("--burst-window", type=positive_float, default=10.0, help="burst window, s (default 10)")
    g.add_argument("--burst-min", type=positive_int, default=4, help="events that make a burst (default 4)")


def _add_prompt_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("prompt")
    g.add_argument("--video", default=None, help="only this video id (default: every video)")
    g.add_argument("--template", default="eald-v1",
                   help="bundled template name (eald-v1) or a template file")
    g.add_argument("--labels", default="positive,negative",
                   help="comma-separated emotion labels (default: positive,negative)")
    g.add_argument("--transcript", default=None, metavar="TXT", help="transcript text file")
    g.add_argument("--keyframe", action="append", default=[], metavar="IMG",
                   help="de-identified keyframe (PNG/JPEG/WebP) to attach; repeatable")
    g.add_argument("--keyframes-deidentified", action="store_true",
                   help="confirm that every --keyframe shows no identifiable face "
                        "(required: raw frames with faces are never sent)")
    g.add_argument("--max-timeline-chars", type=positive_int, default=6000,
                   help="size budget of the timeline text (default 6000 characters)")
    g.add_argument("--max-transcript-chars", type=positive_int, default=4000,
                   help="transcript longer than this is cut (default 4000 characters)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prompt", help="events → an MLLM prompt (text or OpenAI chat messages)",
                       description="Summarise an event file into a prompt that asks an MLLM for "
                                   "the overall emotional state.")
    p.add_argument("events", help="event file")
    _add_input_options(p)
    _add_prompt_options(p)
    p.add_argument("--json", action="store_true",
                   help="write OpenAI-style chat messages JSON (an object for one video, a list "
                        "for several) instead of plain text")
    p.add_argument("-o", "--output", default=None, help="output file (default: stdout)")
    p.set_defaults(func=_prompt)

    e = sub.add_parser(
        "emotion", help="video-level emotion: ask an LLM, or train/evaluate a baseline",
        usage="nfbl emotion EVENTS --llm-url URL [options]\n"
              "       nfbl emotion train EVENTS... [--labels-file L] [-o model.json]\n"
              "       nfbl emotion eval EVENTS... [--labels-file L] [--model-file M]",
        description="Without an action: send each video's prompt to an OpenAI-compatible chat "
                    "server and print label, confidence, rationale. 'train': cross-validate a "
                    "supervised baseline on labelled videos and save it fitted on all of them. "
                    "'eval': score a saved model (or, without --model-file, cross-validate).")
    e.add_argument("inputs", nargs="+", metavar="[train|eval] EVENTS",
                   help="event file(s), optionally preceded by the action train or eval")
    _add_input_options(e)
    _add_prompt_options(e)
    g = e.add_argument_group("LLM (no action)")
    g.add_argument("--llm-url", default=None,
                   help="server base URL, e.g. http://localhost:8000/v1 (env NFBL_LLM_URL)")
    g.add_argument("--model", dest="llm_model", default=None, help="model name (env NFBL_LLM_MODEL)")
    g.add_argument("--api-key", default=None,
                   help="API key (prefer env NFBL_LLM_API_KEY or OPENAI_API_KEY)")
    g.add_argument("--timeout", type=positive_float, default=120.0,
                   help="deadline in seconds for each try, connect to last byte (default 120)")
    g.add_argument("--retries", type=nonneg_int, default=3,
                   help="retries on 429/5xx/connection errors")
    g.add_argument("--json-mode", choices=("auto", "on", "off"), default="auto",
                   help="send response_format=json_object (auto: drop it if the server refuses)")
    g.add_argument("--raw-dir", default=None,
                   help="folder for raw answers that fail validation (default: next to -o, "
                        "else the system temp folder)")
    t = e.add_argument_group("train / eval")
    t.add_argument("--labels-file", default=None,
                   help="iMiGUE label table (win/lose → positive/negative) or CSV 'video,label"
                        "[,subject]'; default: the win/lose columns of an iMiGUE event input")
    t.add_argument("--classifier", choices=("logreg", "gboost"), default="logreg",
                   help="logistic regression (saved as JSON) or gradient boosting (pickle)")
    t.add_argument("--folds", type=int_at_least(2), default=5, help="cross-validation folds (default 5)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--model-file", dest="model_file", default=None,
                   help="eval: a saved model (.json, or .pkl with --trust-pickle)")
    t.add_argument("--trust-pickle", action="store_true",
                   help="allow loading a .pkl model (pickles can run code; only your own files)")
    t.add_argument("--report", default=None, help="write the scores and predictions as JSON")
    t.add_argument("--protocol", default=None, metavar="NAME",
                   help="a built-in split (imigue-emotion: 102 train / 100 test videos by "
                        "video id). train: cross-validate and fit on the train videos only; "
                        "eval: score the test videos (without --model-file: fit on the train "
                        "videos first)")
    t.add_argument("--tune", action="store_true",
                   help="logreg: choose the regularisation C by cross-validation inside the "
                        "training videos (grid 0.01-3)")
    e.add_argument("-o", "--output", default=None,
                   help="LLM: results JSON; train: the model file (.json for logreg, .pkl for "
                        "gboost)")
    e.set_defaults(func=_emotion)

    f = sub.add_parser("features", help="events → one fixed-length feature row per video (CSV)",
                       description="Export the aggregator's per-video feature vector (see "
                                   "docs/prompts.md for the columns) for other emotion models.")
    f.add_argument("events", nargs="+", help="event file(s)")
    _add_input_options(f)
    f.add_argument("-o", "--output", required=True, help="output CSV")
    f.set_defaults(func=_features)


# --- helpers -------------------------------------------------------------------------------

def _load(args: argparse.Namespace, paths: list[str]):
    """Read every event file; returns [(path, stream, video_ids)] and a durations table."""
    from nfbl.core.errors import NfblError
    from nfbl.io.event_formats import read_events
    from nfbl.prompts.aggregate import read_durations

    durations = read_durations(args.durations) if args.durations else None
    label_map = None
    if getattr(args, "label_map", None):
        from nfbl.io.event_formats import read_label_map
        label_map = read_label_map(args.label_map)
    out, seen = [], {}
    for p in paths:
        stream = read_events(p, fmt=args.fmt, fps=args.fps, label_map=label_map)
        vids = list(stream.video_ids)
        meta = stream.meta or {}
        for extra in list((meta.get("videos") or {})) + list((meta.get("durations") or {})):
            if extra not in vids:
                vids.append(str(extra))
        if not vids:  # an empty stream: name its video after the file
            vids = [getattr(args, "video", None) or Path(p).stem.split(".")[0]]
        for v in vids:
            if v in seen:
                raise NfblError(f"video {v!r} appears in both {seen[v]} and {p}; give each video "
                                "once")
            seen[v] = p
        out.append((p, stream, vids))
    if args.duration is not None and len(seen) > 1:
        raise NfblError(f"--duration applies to one video but the input holds {len(seen)}; "
                        "use --durations CSV")
    return out, durations


def _summaries(args, loaded, durations, only: str | None = None):
    from nfbl.core.errors import NfblError
    from nfbl.prompts.aggregate import AggregateConfig, summarise

    cfg = AggregateConfig(args.burst_window, args.burst_min)
    res = []
    for _, stream, vids in loaded:
        sel = [v for v in vids if only is None or v == only]
        res += [(s, stream) for s in summarise(stream, args.duration, durations, cfg, sel)]
    if only is not None and not res:
        raise NfblError(f"video {only!r} is not in the input (videos: "
                        f"{', '.join(v for _, _, vs in loaded for v in vs)[:200]})")
    return res


def _prompts(args, loaded, durations):
    from nfbl.core.errors import NfblError
    from nfbl.prompts.templates import PromptConfig, build_prompt, load_template, parse_labels

    tpl = load_template(args.template)
    labels = parse_labels(args.labels)
    transcript = None
    if args.transcript:
        from nfbl.io.inputs import check_input

        path = check_input(args.transcript, "file")  # a folder or a FIFO: one clear line
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            transcript = fh.read()
    cfg = PromptConfig(args.max_timeline_chars, args.max_transcript_chars)
    pairs = _summaries(args, loaded, durations, args.video)
    if (transcript or args.keyframe) and len(pairs) > 1:
        raise NfblError("--transcript/--keyframe belong to one video but the input holds "
                        f"{len(pairs)}; choose one with --video")
    return [build_prompt(s, stream.events, tpl, labels, transcript, args.keyframe,
                         args.keyframes_deidentified, cfg) for s, stream in pairs]


def _write_text(text: str, output: str | None) -> None:
    if output:
        from nfbl.core.atomic import atomic_open

        with atomic_open(output) as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


# --- handlers ------------------------------------------------------------------------------

def _check_paths(args: argparse.Namespace, events: list[str]) -> None:
    """Before any work: no output may be an input; outputs writable; inputs are files."""
    from nfbl.core.errors import NfblError
    from nfbl.core.paths import check_outputs

    for opt in ("transcript", "labels_file", "durations", "model_file"):
        value = getattr(args, opt, None)
        if value and Path(value).is_dir():
            raise NfblError(f"{value}: --{opt.replace('_', '-')} is a folder; give a file")
    inputs = [*events, *(getattr(args, "keyframe", None) or []),
              *(getattr(args, o, None) for o in ("transcript", "labels_file", "durations",
                                                   "model_file"))]
    check_outputs([getattr(args, "output", None), getattr(args, "report", None)], inputs)


def _prompt(args: argparse.Namespace) -> int:
    _check_paths(args, [args.events])
    loaded, durations = _load(args, [args.events])
    prompts = _prompts(args, loaded, durations)
    if args.json:
        doc = prompts[0].to_dict() if len(prompts) == 1 else [p.to_dict() for p in prompts]
        text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    elif len(prompts) == 1:
        text = prompts[0].to_text()
    else:
        text = "\n".join(f"===== video {p.video_id} =====\n{p.to_text()}" for p in prompts)
    _write_text(text, args.output)
    if args.output:
        print(f"wrote {len(prompts)} prompt(s) to {args.output}", file=sys.stderr)
    return 0


def _emotion(args: argparse.Namespace) -> int:
    action = args.inputs[0] if args.inputs[0] in ("train", "eval") else None
    paths = args.inputs[1:] if action else args.inputs
    from nfbl.core.errors import NfblError

    if not paths:
        raise NfblError(f"nfbl emotion {action}: give at least one event file")
    _check_paths(args, paths)
    if action is None:
        return _emotion_llm(args, paths)
    return _emotion_supervised(args, action, paths)


def _emotion_llm(args: argparse.Namespace, paths: list[str]) -> int:
    from nfbl.core.atomic import atomic_open
    from nfbl.io.inputs import safe_name
    from nfbl.prompts.llm_client import LLMConfig, classify

    config = LLMConfig.from_env(args.llm_url, args.llm_model, args.api_key,
                                timeout_s=args.timeout, max_retries=args.retries,
                                json_mode=args.json_mode)
    loaded, durations = _load(args, paths)
    prompts = _prompts(args, loaded, durations)
    raw_dir = args.raw_dir or (str(Path(args.output).resolve().parent) if args.output
                               else str(Path(tempfile.gettempdir()) / "nfbl-llm"))
    results = []
    for p in prompts:
        ans = classify(p.to_messages(), p.labels, config, raw_dir,
                       stem=safe_name(p.video_id, "video"))  # ids come from inside the input
        results.append({"video_id": p.video_id, **ans.to_dict(), "template": p.template,
                        "model": config.model, "labels": list(p.labels)})
        print(f"{p.video_id}\t{ans.label}\t{ans.confidence:.2f}\t{ans.rationale}")
    if args.output:
        with atomic_open(args.output) as fh:
            json.dump(results, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
    return 0


def _emotion_supervised(args: argparse.Namespace, action: str, paths: list[str]) -> int:
    from nfbl.core.errors import NfblError
    from nfbl.core.atomic import atomic_open
    from nfbl.prompts import emotion
    from nfbl.prompts.aggregate import feature_vector

    loaded, durations = _load(args, paths)
    if args.labels_file:
        labels = emotion.read_video_labels(args.labels_file)
    else:
        labels = {}
        for _, stream, _ in loaded:
            labels.update(emotion.labels_from_meta(stream.meta or {}))
        if not labels:
            raise NfblError("no video labels: pass --labels-file (iMiGUE label table or CSV "
                            "'video,label')")
    feats = {s.video_id: feature_vector(s) for s, _ in _summaries(args, loaded, durations)}
    data = emotion.make_dataset(feats, labels)
    counts: dict[str, int] = {}
    for lab in data.y.astype(str).tolist():
        counts[lab] = counts.get(lab, 0) + 1
    report: dict = {"n_videos": len(data.video_ids), "label_counts": dict(sorted(counts.items())),
                    "grouped_by_subject": data.groups is not None}
    if args.protocol:
        return _emotion_protocol(args, action, data, report)
    if action == "eval" and args.model_file:
        from nfbl.metrics.scores import emotion_metrics

        model = emotion.load_model(args.model_file, trust_pickle=args.trust_pickle)
        pred = emotion.predict(model, data.X)
        m = emotion_metrics(data.y.astype(str).tolist(), pred.astype(str).tolist())
        report.update({"model": str(args.model_file), "accuracy": m.accuracy,
                       "macro_f1": m.macro_f1,
                       "predictions": {v: str(p) for v, p in zip(data.video_ids, pred)}})
        print(f"{len(data.video_ids)} videos; accuracy {m.accuracy:.3f}, macro-F1 {m.macro_f1:.3f}")
    else:
        if action == "train" and args.output:
            out = Path(args.output)
            want = ".json" if args.classifier == "logreg" else ".pkl"
            if out.suffix.lower() != want:
                raise NfblError(f"{out}: a {args.classifier} model is saved as {want}")
        cv = emotion.cross_validate(data, args.classifier, args.folds, args.seed)
        report.update({"cross_validation": cv.to_dict()})
        print(f"{len(data.video_ids)} videos, {cv.classifier}, {cv.n_splits}-fold {cv.splitter}: "
              f"accuracy {cv.accuracy:.3f}, macro-F1 {cv.macro_f1:.3f}")
        if action == "train":
            model = emotion.fit(data, args.classifier, args.seed,
                                info={"n_videos": len(data.video_ids), "cv_accuracy": cv.accuracy,
                                      "cv_macro_f1": cv.macro_f1, "seed": args.seed})
            if args.output:
                emotion.save_model(model, args.output)
                print(f"saved the model fitted on all {len(data.video_ids)} videos to "
                      f"{args.output}")
            else:
                print("no -o given: the fitted model was not saved")
    if args.report:
        with atomic_open(args.report) as fh:
            json.dump(report, fh, indent=1)
            fh.write("\n")
    return 0


#: Published iMiGUE emotion results (accuracy on the official test videos), printed beside
#: nfbl's own: the best micro-gesture-based one and two skeleton-based ones.
PUBLISHED_EMOTION_ANCHORS = (("TSM+LSTM (micro-gesture based, best published)", 0.60),
                             ("MS-G3D (skeleton based)", 0.55),
                             ("ST-GCN (skeleton based)", 0.50))


def _emotion_protocol(args: argparse.Namespace, action: str, data, report: dict) -> int:
    """``train``/``eval`` under a named protocol: the test videos never take part in fitting
    or in choosing C."""
    from nfbl.core.atomic import atomic_open
    from nfbl.core.errors import NfblError
    from nfbl.metrics.scores import emotion_metrics
    from nfbl.prompts import emotion

    train, test = emotion.protocol_split(data, args.protocol)
    report["protocol"] = {"name": args.protocol, "train_videos": len(train.video_ids),
                          "test_videos": len(test.video_ids)}
    print(f"protocol {args.protocol}: {len(train.video_ids)} train / {len(test.video_ids)} "
          "test videos with events and labels")
    C = 1.0
    model = None
    if action == "eval" and args.model_file:
        model = emotion.load_model(args.model_file, trust_pickle=args.trust_pickle)
    else:
        if not len(train.video_ids):
            raise NfblError(f"no video of the {args.protocol} train split in the input")
        if args.tune and args.classifier == "logreg":
            C, grid = emotion.tune_logreg(train, args.folds, args.seed)
            report["tuning"] = {"C": C, "cv_macro_f1": {str(k): v for k, v in grid.items()}}
            print("C chosen on train-video CV: " + ", ".join(
                f"C={k:g} macro-F1 {v:.3f}" for k, v in grid.items()) + f" -> C={C:g}")
        cv = emotion.cross_validate(train, args.classifier, args.folds, args.seed, C=C)
        report["cross_validation"] = cv.to_dict()
        print(f"train videos, {cv.n_splits}-fold {cv.splitter}: accuracy {cv.accuracy:.3f}, "
              f"macro-F1 {cv.macro_f1:.3f}")
        model = emotion.fit(train, args.classifier, args.seed, C=C,
                            info={"protocol": args.protocol, "n_videos": len(train.video_ids),
                                  "C": C, "cv_accuracy": cv.accuracy,
                                  "cv_macro_f1": cv.macro_f1, "seed": args.seed})
        if action == "train":
            if args.output:
                emotion.save_model(model, args.output)
                print(f"saved the model fitted on the {len(train.video_ids)} train videos to "
                      f"{args.output}")
            else:
                print("no -o given: the fitted model was not saved")
    if action == "eval":
        if not len(test.video_ids):
            raise NfblError(f"no video of the {args.protocol} test split in the input")
        pred = emotion.predict(model, test.X)
        m = emotion_metrics(test.y.astype(str).tolist(), pred.astype(str).tolist())
        report.update({"accuracy": m.accuracy, "macro_f1": m.macro_f1,
                       "predictions": {v: str(p) for v, p in zip(test.video_ids, pred)}})
        print(f"{args.protocol} test, {len(test.video_ids)} videos: accuracy {m.accuracy:.3f}, "
              f"macro-F1 {m.macro_f1:.3f}")
        print("published accuracy on the same test videos (iMiGUE paper): " + "; ".join(
            f"{name} {acc:.2f}" for name, acc in PUBLISHED_EMOTION_ANCHORS))
    if args.report:
        with atomic_open(args.report) as fh:
            json.dump(report, fh, indent=1)
            fh.write("\n")
    return 0


def _features(args: argparse.Namespace) -> int:
    _check_paths(args, args.events)
    import csv

    from nfbl.core.atomic import atomic_open
    from nfbl.prompts.aggregate import FEATURE_NAMES, feature_vector

    loaded, durations = _load(args, args.events)
    rows = [(s.video_id, feature_vector(s)) for s, _ in _summaries(args, loaded, durations)]
    with atomic_open(args.output, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(("video_id",) + FEATURE_NAMES)
        for vid, vec in rows:
            w.writerow([vid] + [repr(float(x)) for x in vec])
    print(f"wrote {len(rows)} feature row(s) x {len(FEATURE_NAMES)} columns to {args.output}")
    return 0
