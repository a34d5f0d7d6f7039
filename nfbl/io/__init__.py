"""Readers and writers: keypoint sequences, annotations and event formats (numpy/stdlib only)."""
