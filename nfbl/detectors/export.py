"""Export an :class:`~nfbl.detectors.model.NFBLDetector` to ONNX with its model card.

The graph takes ``keypoints`` float32 ``(batch, time, V, 3)`` and returns ``cls_logits``
``(batch, time, C)`` and ``offsets`` ``(batch, time, C, 2)``; batch and time are dynamic.
The card is stored as JSON under the metadata key ``nfbl_card``. After writing, the file is
loaded with onnxruntime and checked against torch; the target is replaced only if that works.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import torch

from nfbl.detectors.model import NFBLDetector
from nfbl.core.errors import MissingDependencyError, NfblError
from nfbl.core.atomic import atomic_path
from nfbl.exports.modelcard import METADATA_KEY, ModelCard

log = logging.getLogger(__name__)

INPUT_NAME = "keypoints"
OUTPUT_NAMES = ("cls_logits", "offsets")
DEFAULT_OPSET = 17
#: Tolerance of the post-export check, max |torch - onnxruntime| / max(1, |torch|).
PARITY_TOL = 1e-4


def _check_card(model: NFBLDetector, card: ModelCard) -> None:
    cfg = model.cfg
    problems = []
    if card.layout != cfg.layout:
        problems.append(f"layout {card.layout} vs model {cfg.layout}")
    if tuple(card.class_ids) != tuple(cfg.class_ids):
        problems.append("class ids differ from the model's")
    if abs(card.fps - cfg.fps) > 1e-9:
        problems.append(f"fps {card.fps} vs model {cfg.fps}")
    if card.stride % cfg.total_stride:
        problems.append(f"stride {card.stride} is not a multiple of the model's {cfg.total_stride}")
    if card.receptive_field < cfg.receptive_field:
        problems.append(f"receptive field {card.receptive_field} < model's {cfg.receptive_field}")
    if problems:
        raise NfblError("model card does not match the model: " + "; ".join(problems))


def example_input(model: NFBLDetector, frames: int = 96, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A random normalised input ``(batch, frames, V, 3)`` with ~10 % missing joints."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, model.num_joints, 3, generator=g)
    x[..., 2] = torch.rand(batch, frames, model.num_joints, generator=g)
    missing = torch.rand(batch, frames, model.num_joints, generator=g) < 0.1
    x[missing] = 0.0
    return x


def _torch_export(model: NFBLDetector, x: torch.Tensor, path: Path, opset: int) -> None:
    axes = {INPUT_NAME: {0: "batch", 1: "time"}, OUTPUT_NAMES[0]: {0: "batch", 1: "time"},
            OUTPUT_NAMES[1]: {0: "batch", 1: "time"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=opset,
                              input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                              dynamic_axes=axes, do_constant_folding=True)
            return
        except (TypeError, RuntimeError, NotImplementedError) as exc:  # legacy exporter gone
            log.info("TorchScript ONNX exporter failed (%s); using the dynamo exporter", exc)
        b, t = torch.export.Dim("batch"), torch.export.Dim("time")
        prog = torch.onnx.export(model, (x,), dynamo=True, opset_version=max(opset, 18),
                                 input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                                 dynamic_shapes=({0: b, 1: t},))
        prog.save(str(path))


def verify(path: str | Path, model: NFBLDetector, frames: tuple[int, ...] = (64, 5),
           tol: float = PARITY_TOL) -> float:
    """Run the ONNX file with onnxruntime on random inputs; return the worst difference
    ``max |torch - ort| / max(1, |torch|)`` over both outputs: absolute where values are
    within ±1, relative beyond. Offsets are in frames (hundreds on random input), where a
    float32 ulp alone is ~3e-5 and kernel differences reach ~1e-4 absolute; measured on the
    bundled model: logits 2e-5 absolute, offsets 1.8e-4 absolute at values up to 362 frames
    (6e-6 relative).

    Also checks that batch and time are dynamic (inputs of another size run). Raises
    :class:`NfblError` on mismatch.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    dims = sess.get_inputs()[0].shape
    if isinstance(dims[0], int) or isinstance(dims[1], int):
        raise NfblError(f"exported ONNX has fixed batch/time axes {dims}; expected dynamic")
    worst = 0.0
    model.eval()
    for i, t in enumerate(frames):
        x = example_input(model, frames=t, batch=1 + i % 3, seed=100 + i)
        with torch.no_grad():
            ref = [o.numpy() for o in model(x)]
        got = sess.run(None, {INPUT_NAME: x.numpy()})
        for r, g in zip(ref, got):
            if r.shape != g.shape:
                raise NfblError(f"ONNX output shape {g.shape} != torch {r.shape} at T={t}")
            if r.size:
                worst = max(worst, float(np.max(np.abs(r - g) / np.maximum(1.0, np.abs(r)))))
    if not worst <= tol:
        raise NfblError(f"ONNX export check failed: max |torch - onnxruntime| / max(1, |torch|) "
                        f"= {worst:.3g} > {tol}")
    return worst


def export(model: NFBLDetector, card: ModelCard, path: str | Path, opset: int = DEFAULT_OPSET,
           check: bool = True) -> Path:
    """Write ``model`` as ONNX with ``card`` in its metadata; atomic; verified when ``check``."""
    try:
        import onnx
    except ImportError:
        raise MissingDependencyError("onnx", "train", "ONNX export") from None
    if opset < 17:
        raise NfblError(f"ONNX opset {opset} is too old; use 17 or newer")
    _check_card(model, card)
    path = Path(path)
    was_training = model.training
    model.eval()
    try:
        x = example_input(model, frames=max(3 * card.stride, 96), batch=2)
        with atomic_path(path, suffix=".onnx") as tmp:
            _torch_export(model, x, tmp, opset)
            proto = onnx.load(str(tmp), load_external_data=True)
            del proto.metadata_props[:]
            entry = proto.metadata_props.add()
            entry.key, entry.value = METADATA_KEY, card.to_json()
            proto.producer_name = "nfbl"
            proto.doc_string = f"NFBL detector {card.name} {card.version}"
            onnx.checker.check_model(proto)
            onnx.save_model(proto, str(tmp), save_as_external_data=False)
            for stale in tmp.parent.glob(tmp.name + ".data"):
                stale.unlink()
            if check:
                err = verify(tmp, model)
                log.info("exported %s: max |torch - onnxruntime| / max(1, |torch|) = %.2g", path, err)
    finally:
        model.train(was_training)
    return path
