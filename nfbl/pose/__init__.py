"""Video → (de-identified) frames → keypoints.

``video`` (PyAV decoding), ``writer`` (H.264 output), ``backends`` (pose estimators behind one
small interface), ``deid`` (face de-identification), ``stride`` (pose on every k-th frame
with interpolation). Heavy dependencies (av, mediapipe, onnxruntime, cv2) are imported lazily.
"""
