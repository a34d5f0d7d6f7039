"""Deploying the NFBL detector: ONNX export (``nfbl.detectors.export``, needs torch + onnx) and
the onnxruntime runtime (``nfbl.exports.runtime``, onnxruntime + numpy only, no torch).

Nothing is imported here on purpose, so that ``import nfbl.exports.runtime`` never pulls torch.
"""
