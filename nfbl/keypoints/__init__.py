"""Keypoint sequences after reading: cleaning (gaps, smoothing, normalisation) and tracking."""
