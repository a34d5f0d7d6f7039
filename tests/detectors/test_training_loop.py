"""Training loop: a tiny run lowers the loss; resume equals an uninterrupted run; DDP (gloo)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nfbl.detectors import data as D  # noqa: E402
from nfbl.detectors.config import TrainConfig, config_from_dict  # noqa: E402
from nfbl.core.events import Event, EventStream  # noqa: E402

TINY_MODEL = {"class_ids": [16, 22], "stem_channels": 8, "channels": [8], "strides": [1],
              "dilations": [1], "neck_channels": 16, "pyramid_levels": 1, "head_channels": 8,
              "dropout": 0.1}


def toy_records(n_videos: int = 2, frames: int = 400, seed: int = 0) -> list[D.VideoRecord]:
    """Videos where N16 raises the right wrist and N22 pulls the hands together."""
    rng = np.random.default_rng(seed)
    out = []
    for v in range(n_videos):
        x = (rng.normal(size=(frames, 56, 3)) * 0.05).astype(np.float32)
        x[..., 2] = 0.9
        x[:, 40:, :] = 0.0  # right-hand joints missing, as often in real data
        events = []
        t = 10
        while t < frames - 60:
            k = int(rng.integers(2))
            dur = int(rng.integers(20, 50))
            if k == 0:
                x[t:t + dur, 11, 1] -= 1.0
            else:
                x[t:t + dur, 14:35, 0] += 0.8
            events.append(Event(f"toy{v}", (16, 22)[k], t / 25.0, (t + dur) / 25.0))
            t += dur + int(rng.integers(10, 40))
        out.append(D.make_record(f"toy{v}", x, np.arange(frames) / 25.0, 25.0,
                                 EventStream(tuple(events)), class_ids=[16, 22]))
    return out


def tiny_config(out_dir: Path, epochs: int = 2, steps: int = 3, augment: bool = True) -> TrainConfig:
    return config_from_dict({
        "data": {"window": 64, "stride": 32},
        "model": TINY_MODEL,
        "optim": {"batch_size": 4, "epochs": epochs, "steps_per_epoch": steps, "warmup_steps": 1,
                  "lr": 5e-3},
        "augment": {"enabled": augment},
        "run": {"out_dir": str(out_dir), "threads": 1, "patience": 0, "seed": 7,
                "progress": False},
    })


def test_tiny_run_lowers_the_loss_and_validates(tmp_path):
    from nfbl.detectors.train import train
    recs = toy_records()
    cfg = tiny_config(tmp_path / "run", epochs=4, steps=4, augment=False)
    res = train(cfg, train_records=recs, val_records=recs[:1])
    losses = [h["loss"] for h in res["history"]]
    assert losses[-1] < 0.9 * losses[0], losses
    assert all(k in res["history"][-1] for k in ("f1", "map50", "precision", "recall"))
    assert (tmp_path / "run" / "last.pt").exists() and (tmp_path / "run" / "best.pt").exists()
    assert (tmp_path / "run" / "history.json").exists()
    from nfbl.detectors.checkpoint import load_checkpoint
    ck = load_checkpoint(tmp_path / "run" / "last.pt")
    assert ck.extra["state"]["epoch"] == 4
    assert "synthetic only" in ck.card["training_data"]


def test_resume_equals_uninterrupted_run(tmp_path):
    from nfbl.detectors.train import train
    recs = toy_records()
    full = train(tiny_config(tmp_path / "a", epochs=3), train_records=recs, val_records=[])
    train(tiny_config(tmp_path / "b", epochs=3), train_records=recs, val_records=[],
          max_epochs=2)
    resumed = train(tiny_config(tmp_path / "b", epochs=3), train_records=recs, val_records=[],
                    resume=tmp_path / "b" / "last.pt")
    assert resumed["epochs"] == 3
    assert [h["loss"] for h in resumed["history"]] == [h["loss"] for h in full["history"]]
    sa, sb = full["model"].state_dict(), resumed["model"].state_dict()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update({"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    import torch.distributed as dist
    from nfbl.detectors.train import train
    try:
        res = train(tiny_config(Path(out) / "run", epochs=1, steps=2), device="cpu",
                    train_records=toy_records(), val_records=[])
        torch.save(res["model"].state_dict(), Path(out) / f"rank{rank}.pt")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


@pytest.mark.timeout(180)
def test_ddp_gloo_two_ranks_stay_in_sync(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt", weights_only=True)
    b = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in a:
        if k.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue  # batch-norm statistics are per rank (broadcast from rank 0 per forward)
        assert torch.equal(a[k], b[k]), k
    assert (tmp_path / "run" / "last.pt").exists()  # written by rank 0 only


def test_init_checkpoint_fine_tunes_and_checks_the_model_config(tmp_path):
    from nfbl.detectors.train import train
    from nfbl.core.errors import NfblError
    recs = toy_records()
    train(tiny_config(tmp_path / "pre", epochs=1), train_records=recs, val_records=[])
    base = tiny_config(tmp_path / "ft", epochs=1)
    ft = base.replace(run={"init_checkpoint": str(tmp_path / "pre" / "last.pt")})
    res = train(ft, train_records=recs, val_records=[])
    assert res["epochs"] == 1
    # adding the global-centre input changes no weight shape: allowed
    res = train(ft.replace(model={"global_centre": True}, run={"out_dir": str(tmp_path / "g")}),
                train_records=recs, val_records=[])
    assert res["epochs"] == 1
    other = ft.replace(model={"head_channels": 12})
    with pytest.raises(NfblError, match="model config differs"):
        train(other, train_records=recs, val_records=[])


def test_init_checkpoint_bundled_names_the_packaged_checkpoint(tmp_path, monkeypatch):
    from nfbl.core.errors import NfblError
    from nfbl.detectors import train as T
    from nfbl.exports import runtime
    recs = toy_records()
    T.train(tiny_config(tmp_path / "pre", epochs=1), train_records=recs, val_records=[])
    ft = tiny_config(tmp_path / "ft", epochs=1).replace(run={"init_checkpoint": "bundled"})
    monkeypatch.setattr(runtime, "bundled_checkpoint_path", lambda: tmp_path / "pre" / "last.pt")
    res = T.train(ft, train_records=recs, val_records=[])
    assert res["epochs"] == 1
    monkeypatch.setattr(runtime, "bundled_checkpoint_path", lambda: None)
    with pytest.raises(NfblError, match="bundled"):
        T.train(ft, train_records=recs, val_records=[])
    missing = ft.replace(run={"init_checkpoint": str(tmp_path / "nope.pt")})
    with pytest.raises(NfblError, match="no such file"):
        T.train(missing, train_records=recs, val_records=[])


def test_the_packaged_checkpoint_holds_the_bundled_onnx_weights():
    """nfbl/models/nfbl_default.pt (for init_checkpoint = "bundled") is the network of
    nfbl_default.onnx: same card version and layout, same outputs on the same input."""
    from nfbl.detectors import checkpoint
    from nfbl.exports import runtime
    pt, onnx_path = runtime.bundled_checkpoint_path(), runtime.bundled_model_path()
    if pt is None or onnx_path is None:
        pytest.skip("no bundled checkpoint")
    ck = checkpoint.load_checkpoint(pt)
    assert ck.extra is None  # weights only: no optimiser state shipped
    det = runtime.Detector.load(onnx_path, threads=1)
    assert ck.card["version"] == det.card.version
    assert tuple(ck.config.class_ids) == tuple(det.card.class_ids)
    from nfbl.detectors.config import load_config
    from nfbl.detectors.train import build_model
    configs = Path(__file__).resolve().parents[2] / "configs"
    # configs/imigue_finetune.toml must be able to start from it
    assert build_model(load_config(configs / "imigue_finetune.toml")).cfg == ck.config
    from nfbl.detectors.adapter import TorchDetector
    from nfbl.detectors.model import FlipAveraged
    net = FlipAveraged(ck.model) if det.card.test_time_flip else ck.model
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(300, 56, 3)) * 0.3).astype(np.float32)
    x[..., 2] = 0.9
    a = det.predict(x)
    b = TorchDetector(net, card=det.card).predict(x)
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    np.testing.assert_allclose(a[1], b[1], atol=1e-2)
