"""Speed benchmark of the generator: hours of keypoints generated per CPU-minute.

Run: ``nfbl synth --bench``. CPU time is the process
time of this (single-threaded) process; numpy/scipy BLAS threads are not used by the
generator's element-wise work.
"""
from __future__ import annotations

import platform
import time
from dataclasses import dataclass, replace

from nfbl.synth.corpus import SynthConfig, generate_video


@dataclass(frozen=True)
class BenchResult:
    videos: int
    minutes_per_video: float
    fps: float
    layout: str
    cpu_s: float
    wall_s: float

    @property
    def keypoint_hours(self) -> float:
        return self.videos * self.minutes_per_video / 60.0

    @property
    def hours_per_cpu_minute(self) -> float:
        return self.keypoint_hours / (self.cpu_s / 60.0)

    def summary(self) -> str:
        return (f"nfbl synth bench: {self.videos} videos x {self.minutes_per_video:g} min at {self.fps:g} fps "
                f"({self.layout}) = {self.keypoint_hours:.2f} h of keypoints in {self.cpu_s:.2f} s CPU "
                f"({self.wall_s:.2f} s wall) -> {self.hours_per_cpu_minute:.1f} h of keypoints per CPU-minute "
                f"[{platform.processor() or platform.machine()}, python {platform.python_version()}]")


def run_bench(config: SynthConfig = SynthConfig(), seed: int = 0, videos: int = 6,
              minutes: float = 10.0) -> BenchResult:
    """Generate ``videos`` videos of ``minutes`` each (keypoints + events, no file output)."""
    cfg = replace(config, minutes=minutes)
    generate_video(replace(cfg, minutes=0.2), seed=(seed, 999))  # warm-up (imports, caches)
    c0, w0 = time.process_time(), time.perf_counter()
    for i in range(videos):
        generate_video(cfg, seed=(seed, i), video_id=f"bench_{i}")
    return BenchResult(videos, minutes, cfg.fps, cfg.layout, time.process_time() - c0, time.perf_counter() - w0)

