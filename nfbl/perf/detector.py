"""`nfbl bench speed`: frames/s and peak memory of detectors on the same synthetic keypoints.

Runners (each measurement — one runner, one sequence length — runs in a fresh Python
subprocess, so peak memory numbers never mix):

* ``onnx`` — any ONNX file through onnxruntime. An nfbl detector model is run through
  :mod:`nfbl.exports.runtime` (``Detector.predict``: dense inference in the card's chunks,
  no decoding) when that module is installed and accepts the file; any other
  model is fed according to its declared input shape: ``(N, T, V, 3)``, ``(N, 3, T, V)``,
  ``(N, 3, T, V, M)`` or ``(N, T, V*3)``; a fixed T means a clip model, run on windows of
  T frames (stride T), ``batch`` (or the fixed N) per run; an open T means a sequence
  model, run on consecutive chunks of ``chunk`` frames, batch 1 (network only, no margins);
  an open V gets ``joints`` (default 56).
* ``nfbl-torch`` — :class:`nfbl.detectors.model.NFBLDetector` (random weights, eval mode)
  over the whole sequence in chunks of ``chunk`` frames with receptive-field margins (the
  protocol of :class:`nfbl.detectors.adapter.TorchDetector`, the one chunk plan).
* ``stgcn-torch`` — the classic ST-GCN clip classifier
  (:mod:`nfbl.detectors.reference_stgcn`), on windows of ``window`` frames with stride
  ``window`` (every frame is seen once), ``batch`` windows per forward pass.

Input: one person, ``minutes × 60 × fps`` frames of seeded random float32 keypoints
``(T, V, 3)`` (the score channel is 1); V = the model's joints (56, nfbl's canonical layout,
unless a model fixes another). Timing: one untimed warm-up batch, then one timed pass over
the whole sequence (``time.perf_counter``); frames/s = T / seconds. Memory: peak resident
set size of the subprocess (``ru_maxrss``) and its growth over the RSS after the model and
the input were set up. Threads: ``torch.set_num_threads`` / onnxruntime
``intra_op_num_threads`` = ``threads``, inter-op 1, OMP/MKL env vars likewise.

This module composes siblings (it imports ``nfbl.detectors``/``nfbl.exports`` lazily, in the
worker only); the foundation never imports it.
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from nfbl.core.errors import NfblError

log = logging.getLogger(__name__)

RUNNER_NAMES: tuple[str, ...] = ("onnx", "nfbl-torch", "stgcn-torch")
REFERENCE = "stgcn-torch"


@dataclass(frozen=True)
class SpeedConfig:
    """minutes: sequence lengths; fps: frame rate of the synthetic sequences; threads: CPU
    threads; window/batch: windowed protocol (frames, windows per batch); joints: V where the
    model leaves it open (None = 56); chunk: frames per chunk of the nfbl torch detector;
    stgcn_layout: layout of the reference ST-GCN (default nfbl56 = the detector's input);
    onnx: model path; timeout_s: per measurement; seed: of the synthetic keypoints."""

    minutes: tuple[float, ...] = (1.0, 10.0, 60.0)
    fps: float = 25.0
    threads: int = 2
    window: int = 300
    batch: int = 8
    joints: int | None = None
    chunk: int = 8192
    stgcn_layout: str = "nfbl56"
    onnx: str | None = None
    timeout_s: float = 1800.0
    seed: int = 0


def default_runners(onnx: str | None) -> list[str]:
    """``onnx`` when a model is given, plus the torch runners whose modules import."""
    import importlib.util

    runners = ["onnx"] if onnx else []
    if importlib.util.find_spec("torch") is not None:
        try:
            has_model = importlib.util.find_spec("nfbl.detectors.model") is not None
        except ImportError:
            has_model = False
        if has_model:
            runners.append("nfbl-torch")
        runners.append("stgcn-torch")
    if not runners:
        raise NfblError("nothing to time: pass --onnx MODEL.onnx (torch is not installed)")
    return runners


# --- the parent side ------------------------------------------------------------------------

def machine_info() -> dict:
    """CPU model, logical cores, load average, library versions (for the report)."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "logical_cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "numpy": np.__version__}
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    for mod in ("torch", "onnxruntime"):
        try:
            info[mod] = __import__(mod).__version__
        except ImportError:
            info[mod] = None
    return info


def measure(runner: str, minutes: float, cfg: SpeedConfig) -> dict:
    """Run one measurement in a fresh subprocess; returns its result row (``error`` on failure)."""
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[var] = str(cfg.threads)
    job = json.dumps({"runner": runner, "minutes": minutes, "cfg": asdict(cfg)})
    row = {"runner": runner, "minutes": minutes}
    try:
        proc = subprocess.run([sys.executable, "-m", "nfbl.perf.detector", "--worker", job],
                              capture_output=True, text=True, env=env, timeout=cfg.timeout_s)
    except subprocess.TimeoutExpired:
        return {**row, "error": f"timed out after {cfg.timeout_s:g} s"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "error": f"worker failed (exit {proc.returncode}): {err}"}
    return {**row, **json.loads(lines[-1])}


def ratios(rows: Sequence[dict]) -> list[dict]:
    """Per length: each runner's frames/s divided by the reference ST-GCN's (or, without it,
    by the first runner's) and its peak memory likewise."""
    out = []
    for minutes in dict.fromkeys(r["minutes"] for r in rows):
        ok = [r for r in rows if r["minutes"] == minutes and "fps" in r]
        if not ok:
            continue
        base = next((r for r in ok if r["runner"] == REFERENCE), ok[0])
        for r in ok:
            out.append({"minutes": minutes, "runner": r["runner"], "versus": base["runner"],
                        "speed_ratio": round(r["fps"] / base["fps"], 3),
                        "peak_rss_ratio": round(r["peak_rss_mb"] / base["peak_rss_mb"], 3)})
    return out


def run(cfg: SpeedConfig, runners: Sequence[str],
        progress: Callable[[str], None] | None = None) -> dict:
    """Every runner × every length, one subprocess each; returns the JSON-ready result."""
    for r in runners:
        if r not in RUNNER_NAMES:
            raise NfblError(f"unknown speed runner {r!r}; choose from {', '.join(RUNNER_NAMES)}")
    if "onnx" in runners and not cfg.onnx:
        raise NfblError("the onnx runner needs an ONNX model path")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    info = machine_info()
    rows = []
    for minutes in cfg.minutes:
        for runner in runners:
            row = measure(runner, minutes, cfg)
            rows.append(row)
            if progress:
                progress(_row_line(row))
    return {"started": started, "machine": info, "config": asdict(cfg), "runners": list(runners),
            "rows": rows, "ratios": ratios(rows), "command": " ".join(["nfbl"] + sys.argv[1:])
            if Path(sys.argv[0]).name in ("nfbl", "__main__.py") else None}


def _row_line(r: dict) -> str:
    if "error" in r:
        return f"{r['runner']:<12} {r['minutes']:>5g} min  ERROR {r['error']}"
    return (f"{r['runner']:<12} {r['minutes']:>5g} min  {r['frames']:>7d} frames  "
            f"{r['seconds']:8.2f} s  {r['fps']:9.0f} frames/s  peak RSS {r['peak_rss_mb']:7.0f} MB"
            f"  (+{r['rss_growth_mb']:.0f} MB)")


def markdown_table(result: dict) -> str:
    """The measurements (and ratios versus the reference) as a Markdown table."""
    lines = ["| runner | minutes | frames | seconds | frames/s | × reference | peak RSS MB | "
             "RSS growth MB | protocol |", "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    rat = {(r["runner"], r["minutes"]): r for r in result["ratios"]}
    for r in result["rows"]:
        if "error" in r:
            lines.append(f"| {r['runner']} | {r['minutes']:g} | | | | | | | {r['error']} |")
            continue
        q = rat.get((r["runner"], r["minutes"]))
        ratio = f"{q['speed_ratio']:.2f} (vs {q['versus']})" if q else ""
        lines.append(f"| {r['runner']} | {r['minutes']:g} | {r['frames']} | {r['seconds']:.2f} | "
                     f"{r['fps']:.0f} | {ratio} | {r['peak_rss_mb']:.0f} | "
                     f"{r['rss_growth_mb']:.0f} | {r['protocol']} |")
    m = result["machine"]
    lines += ["", f"Machine: {m.get('cpu')}, {m.get('logical_cores')} logical cores, load average "
              f"at start {m.get('load_average')}; threads {result['config']['threads']}; "
              f"torch {m.get('torch')}, onnxruntime {m.get('onnxruntime')}."]
    return "\n".join(lines)


def write_result(result: dict, out_dir: str | Path) -> list[Path]:
    """speed.json and speed.md (atomic)."""
    from nfbl.core.atomic import atomic_open

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "speed.json") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")
    with atomic_open(out / "speed.md") as fh:
        fh.write("# nfbl bench speed\n\n" + markdown_table(result) + "\n")
    return [out / "speed.json", out / "speed.md"]


# --- the worker side (runs in the subprocess) -----------------------------------------------

def _rss_mb() -> float:
    """Current resident set size (MB) from /proc, or the peak where /proc is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return _peak_rss_mb()


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0


def synthetic_keypoints(frames: int, joints: int, seed: int = 0) -> np.ndarray:
    """Seeded float32 ``(T, V, 3)``: smooth random (x, y) around 0 (unit scale), score 1."""
    rng = np.random.default_rng(seed)
    kp = np.empty((frames, joints, 3), dtype=np.float32)
    base = rng.standard_normal((1, joints, 2)).astype(np.float32)
    kp[..., :2] = base + 0.05 * rng.standard_normal((frames, joints, 2), dtype=np.float32)
    kp[..., 2] = 1.0
    return kp


def windows(kp: np.ndarray, window: int) -> np.ndarray:
    """``(T, V, 3)`` → ``(ceil(T/W), W, V, 3)`` windows with stride W (the last zero-padded)."""
    t = kp.shape[0]
    n = math.ceil(t / window)
    pad = n * window - t
    if pad:
        kp = np.concatenate([kp, np.zeros((pad,) + kp.shape[1:], kp.dtype)])
    return kp.reshape(n, window, *kp.shape[1:])


def _time_batches(run_batch: Callable[[np.ndarray], object], wins: np.ndarray,
                  batch: int) -> float:
    run_batch(wins[:batch])  # warm-up, untimed
    t0 = time.perf_counter()
    for i in range(0, wins.shape[0], batch):
        run_batch(wins[i:i + batch])
    return time.perf_counter() - t0


def _torch_threads(threads: int):
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch


def _run_stgcn(frames: int, cfg: SpeedConfig) -> dict:
    torch = _torch_threads(cfg.threads)
    from nfbl.detectors.reference_stgcn import ReferenceSTGCN, STGCNConfig, count_parameters

    torch.manual_seed(cfg.seed)
    model = ReferenceSTGCN(STGCNConfig(layout=cfg.stgcn_layout)).eval()
    kp = synthetic_keypoints(frames, model.num_joints, cfg.seed)
    wins = windows(kp, cfg.window)
    base = _rss_mb()

    def step(b: np.ndarray) -> object:
        with torch.inference_mode():
            return model(torch.from_numpy(b))

    sec = _time_batches(step, wins, cfg.batch)
    return {"seconds": sec, "base_rss_mb": base, "params": count_parameters(model),
            "protocol": f"{cfg.stgcn_layout} V={model.num_joints}; windows {cfg.window} frames, "
                        f"stride {cfg.window}, batch {cfg.batch}"}


def _run_nfbl_torch(frames: int, cfg: SpeedConfig) -> dict:
    torch = _torch_threads(cfg.threads)
    from nfbl.detectors.adapter import TorchDetector
    from nfbl.detectors.model import DetectorConfig, NFBLDetector, count_parameters

    torch.manual_seed(cfg.seed)
    model = NFBLDetector(DetectorConfig()).eval()
    det = TorchDetector(model, window=cfg.chunk)
    kp = synthetic_keypoints(frames, model.num_joints, cfg.seed)
    base = _rss_mb()
    det.run(kp[:min(frames, cfg.chunk)])  # warm-up, untimed
    t0 = time.perf_counter()
    det.predict(kp)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "base_rss_mb": base, "params": count_parameters(model),
            "protocol": f"nfbl56 V={model.num_joints}; TorchDetector.predict: whole sequence in "
                        f"chunks of {det.window} frames + {det.overlap}-frame context, batch 1"}


def _onnx_layout(shape: Sequence, cfg: SpeedConfig) -> tuple[str, int | None, int | None, int]:
    """From a declared input shape: (kind, fixed N or None, fixed T or None, V)."""
    fixed = [d if isinstance(d, int) and d > 0 else None for d in shape]
    rank = len(fixed)
    v_default = cfg.joints or 56
    if rank == 4 and fixed[3] in (3, None) and fixed[1] != 3:
        return "NTVC", fixed[0], fixed[1], fixed[2] or v_default
    if rank == 4 and fixed[1] == 3:
        return "NCTV", fixed[0], fixed[2], fixed[3] or v_default
    if rank == 5:
        return "NCTVM", fixed[0], fixed[2], fixed[3] or v_default
    if rank == 3:
        f = fixed[2]
        if f is not None and f % 3:
            raise NfblError(f"ONNX input of shape {list(shape)}: last dim {f} is not joints × 3")
        return "NTF", fixed[0], fixed[1], (f // 3) if f else v_default
    raise NfblError(f"ONNX input of shape {list(shape)} is not a keypoint tensor nfbl can feed "
                    "((N,T,V,3), (N,3,T,V), (N,3,T,V,M) or (N,T,V*3))")


def _run_onnx(frames: int, cfg: SpeedConfig) -> dict:
    try:
        import onnxruntime as ort
    except ImportError:
        raise NfblError("the onnx runner needs onnxruntime (pip install onnxruntime)") from None
    runtime_row = _run_nfbl_runtime(frames, cfg)
    if runtime_row is not None:
        return runtime_row
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = cfg.threads
    opts.inter_op_num_threads = 1
    try:
        sess = ort.InferenceSession(str(cfg.onnx), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise NfblError(f"{cfg.onnx}: onnxruntime cannot load it: {str(exc).splitlines()[0]}") \
            from None
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise NfblError(f"{cfg.onnx}: model has {len(inputs)} inputs; the generic speed runner "
                        "feeds models with one keypoint input")
    inp = inputs[0]
    if "float" not in inp.type or "16" in inp.type:
        raise NfblError(f"{cfg.onnx}: input {inp.name!r} is {inp.type}, expected float32")
    kind, n_fixed, t_fixed, v = _onnx_layout(inp.shape, cfg)
    # fixed T (a clip classifier): windows of T, --batch per run; open T (a sequence model):
    # chunks of --chunk frames, batch 1
    window = t_fixed or cfg.chunk
    batch = n_fixed or (cfg.batch if t_fixed else 1)
    kp = synthetic_keypoints(frames, v, cfg.seed)
    wins = windows(kp, window)
    if wins.shape[0] % batch and n_fixed:  # a fixed batch needs whole batches: pad windows
        extra = batch - wins.shape[0] % batch
        wins = np.concatenate([wins, np.zeros((extra,) + wins.shape[1:], wins.dtype)])
    if kind == "NCTV":
        wins = np.ascontiguousarray(wins.transpose(0, 3, 1, 2))
    elif kind == "NCTVM":
        wins = np.ascontiguousarray(wins.transpose(0, 3, 1, 2)[..., None])
    elif kind == "NTF":
        wins = wins.reshape(wins.shape[0], window, v * 3)
    base = _rss_mb()
    name = inp.name

    def step(b: np.ndarray) -> object:
        return sess.run(None, {name: b})

    sec = _time_batches(step, wins, batch)
    return {"seconds": sec, "base_rss_mb": base, "params": None,
            "protocol": f"onnxruntime, input {name} {kind} V={v}; windows {window} frames, "
                        f"stride {window}, batch {batch}"}


def _run_nfbl_runtime(frames: int, cfg: SpeedConfig) -> dict | None:
    """Time an nfbl detector model through :mod:`nfbl.exports.runtime` (None: not one).

    Times ``Detector.predict`` (dense inference, chunked with the card's window and overlap,
    no decoding) on the same kind of normalised synthetic keypoints as the torch runner.
    """
    import importlib.util

    try:
        if importlib.util.find_spec("nfbl.exports.runtime") is None:
            return None
        from nfbl.exports import runtime
    except ImportError:
        return None
    try:
        det = runtime.Detector.load(cfg.onnx, threads=cfg.threads)
    except NfblError as exc:
        log.info("%s; timing it with the generic ONNX runner", exc)
        return None
    kp = synthetic_keypoints(frames, det.num_joints, cfg.seed)
    base = _rss_mb()
    det.predict(kp[:min(frames, det.window)])  # warm-up, untimed
    t0 = time.perf_counter()
    det.predict(kp)
    sec = time.perf_counter() - t0
    return {"seconds": sec, "base_rss_mb": base, "params": None,
            "protocol": f"nfbl.exports.runtime.Detector.predict ({det.card.layout} "
                        f"V={det.num_joints}); chunks of {det.window} frames + {det.overlap} "
                        "overlap, batch 1"}


def worker(job: dict) -> dict:
    """Run one measurement in this process and return its row."""
    cfg = SpeedConfig(**{**job["cfg"], "minutes": tuple(job["cfg"]["minutes"])})
    frames = int(round(float(job["minutes"]) * 60.0 * cfg.fps))
    runner = job["runner"]
    if runner == "stgcn-torch":
        row = _run_stgcn(frames, cfg)
    elif runner == "nfbl-torch":
        row = _run_nfbl_torch(frames, cfg)
    elif runner == "onnx":
        row = _run_onnx(frames, cfg)
    else:
        raise NfblError(f"unknown speed runner {runner!r}")
    peak = _peak_rss_mb()
    return {"frames": frames, "seconds": round(row["seconds"], 4),
            "fps": round(frames / row["seconds"], 1), "peak_rss_mb": round(peak, 1),
            "base_rss_mb": round(row["base_rss_mb"], 1),
            "rss_growth_mb": round(max(peak - row["base_rss_mb"], 0.0), 1),
            "params": row["params"], "protocol": row["protocol"]}


def _main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "--worker":
        try:
            sys.stdout.write(json.dumps(worker(json.loads(argv[1]))) + "\n")  # IPC to the parent
        except NfblError as exc:
            sys.stderr.write(f"nfbl: error: {exc}\n")
            return 2
        return 0
    sys.stderr.write("internal worker of `nfbl bench speed`; run that command instead\n")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
