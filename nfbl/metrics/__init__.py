"""Benchmarking: detection / frame / emotion metrics (numpy only) and reports.

Import the metrics from :mod:`nfbl.metrics.scores`; :mod:`nfbl.metrics.report` writes JSON,
Markdown and (with matplotlib, imported lazily) PNG charts.
"""
from __future__ import annotations

from nfbl.metrics.scores import (MIGA_TIOU, THRESHOLDS_ACTIVITYNET, THRESHOLDS_THUMOS, DetectionAP,
                                EmotionMetrics, F1Result, FrameMetrics, Segments, detection_ap,
                                emotion_metrics, f1_at_tiou, frame_metrics, match_greedy,
                                segments, temporal_iou)

__all__ = ["MIGA_TIOU", "THRESHOLDS_ACTIVITYNET", "THRESHOLDS_THUMOS", "DetectionAP",
           "EmotionMetrics", "F1Result", "FrameMetrics", "Segments", "detection_ap",
           "emotion_metrics", "f1_at_tiou", "frame_metrics", "match_greedy", "segments",
           "temporal_iou"]
