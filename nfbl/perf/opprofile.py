"""`nfbl bench op-profile`: where an ONNX detector spends its time, per operator.

Runs one chunk-sized input (default: the card's window plus its context on both sides, the
largest input :class:`nfbl.exports.runtime.Detector` ever gives the network) ``repeat``
times through onnxruntime with its profiler on (``SessionOptions.enable_profiling``; the
session settings of the runtime), after one warm-up run that is left out, and sums the kernel times of every node. Kernel times do not add
up to the wall time (the profiler itself and the gaps between kernels are left out); use
the shares to find the expensive parts of a graph and ``nfbl bench speed`` for throughput.
"""
from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nfbl.core.errors import NfblError


@dataclass(frozen=True)
class OpRow:
    """One operator type or one node: its share of the summed kernel time and its time."""

    name: str
    share: float          # of the summed kernel time, 0..1
    ms_per_run: float     # milliseconds per run
    count: int            # nodes of this type (1 for a node row)
    shapes: str = ""      # node rows: input shapes as the profiler reports them


@dataclass(frozen=True)
class OpProfile:
    model: str
    frames: int
    joints: int
    threads: int
    repeat: int
    kernel_ms_per_run: float
    ops: tuple[OpRow, ...]
    nodes: tuple[OpRow, ...]


def _input(path: str, frames: int | None, seed: int) -> tuple[str, np.ndarray, int]:
    """The model's input name, a seeded keypoint array ``(1, T, V, 3)`` and T."""
    from nfbl.exports import runtime
    from nfbl.perf.detector import synthetic_keypoints

    det = runtime.Detector.load(path, threads=1)
    t = int(frames) if frames else det.window + 2 * det.overlap
    kp = synthetic_keypoints(t, det.num_joints, seed)[None].astype(np.float32)
    return det.session.get_inputs()[0].name, kp, t


def profile(path: str | Path, frames: int | None = None, threads: int = 2, repeat: int = 5,
            top: int = 15, seed: int = 0) -> OpProfile:
    """Profile the nfbl detector model at ``path`` (see the module docstring)."""
    import onnxruntime as ort

    if repeat < 1 or top < 1 or threads < 1:
        raise NfblError("--repeat, --top and --threads must be >= 1")
    name, x, t = _input(str(path), frames, seed)
    with tempfile.TemporaryDirectory(prefix="nfbl-opprofile-") as tmp:
        so = ort.SessionOptions()          # the settings of nfbl.exports.runtime.Detector.load
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
        so.enable_profiling = True
        so.profile_file_prefix = str(Path(tmp) / "ort")
        sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        for _ in range(repeat + 1):              # the first run is a warm-up, left out below
            sess.run(None, {name: x})
        trace = json.loads(Path(sess.end_profiling()).read_text())
    runs = sorted((e for e in trace if e.get("name") == "model_run"), key=lambda e: e["ts"])
    if len(runs) != repeat + 1:
        raise NfblError(f"{path}: the profiler recorded {len(runs)} runs, expected {repeat + 1}")
    warm_end = runs[0]["ts"] + runs[0]["dur"]
    trace = [e for e in trace if e.get("ts", 0) >= warm_end]
    by_op: Counter = Counter()
    by_node: Counter = Counter()
    op_nodes: dict[str, set] = {}
    shapes: dict[str, str] = {}
    for e in trace:
        if e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        node = e["name"][: -len("_kernel_time")]
        op = e.get("args", {}).get("op_name", "?")
        by_op[op] += e["dur"]
        by_node[node] += e["dur"]
        op_nodes.setdefault(op, set()).add(node)
        shapes[node] = json.dumps([list(s.values())[0] for s in e["args"].get("input_type_shape", [])])
    total = float(sum(by_op.values()))
    if total <= 0:
        raise NfblError(f"{path}: the profiler recorded no kernel times")
    ops = tuple(OpRow(op, us / total, us / repeat / 1000.0, len(op_nodes[op]))
                for op, us in by_op.most_common(top))
    nodes = tuple(OpRow(n, us / total, us / repeat / 1000.0, 1, shapes[n])
                  for n, us in by_node.most_common(top))
    return OpProfile(str(path), t, int(x.shape[2]), int(threads), int(repeat),
                     total / repeat / 1000.0, ops, nodes)


def markdown(p: OpProfile) -> str:
    """Two markdown tables: operator types and the most expensive nodes."""
    lines = [f"{p.model}: input (1, {p.frames}, {p.joints}, 3), {p.threads} thread(s), "
             f"{p.repeat} profiled runs; summed kernel time {p.kernel_ms_per_run:.1f} ms per run",
             "", "| operator | share | ms/run | nodes |", "| --- | ---: | ---: | ---: |"]
    lines += [f"| {r.name} | {100 * r.share:.1f} % | {r.ms_per_run:.2f} | {r.count} |" for r in p.ops]
    lines += ["", "| node | share | ms/run | input shapes |", "| --- | ---: | ---: | --- |"]
    lines += [f"| {r.name} | {100 * r.share:.1f} % | {r.ms_per_run:.2f} | {r.shapes} |"
              for r in p.nodes]
    return "\n".join(lines)
