"""Pose estimators behind one small interface (:class:`~nfbl.pose.backends.base.PoseBackend`).

``mediapipe_backend`` (default; MediaPipe Holistic body + hands), ``onnx_backend`` (RTMPose /
RTMW / DWPose ONNX files the user supplies), ``file`` (precomputed keypoints).
"""
