"""Torch side of the NFBL detector: model, checkpoints, losses and training.

``nfbl.detectors.model`` (NFBLDetector, DetectorConfig), ``nfbl.detectors.checkpoint``
(save/load, model cards). Imports torch; the deploy path (``nfbl.exports.runtime``) does not.
"""
