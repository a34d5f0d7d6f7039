"""`make demo` runs `nfbl demo`: the whole job on the bundled defaults."""
import json

from nfbl.io.event_formats import read_events


def test_nfbl_demo_end_to_end(tmp_path, cli):
    r = cli("demo", tmp_path / "out", "--minutes", "1", "--seed", "7")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    for name in ("events.jsonl", "events.csv", "events.json", "events.eaf", "events.imigue.csv",
                 "truth.events.jsonl", "timeline.png", "prompt.txt", "demo_interview.npz"):
        assert (out / name).is_file(), name
    events = read_events(out / "events.jsonl")
    assert all(e.video_id == "demo_interview" and e.model.startswith("nfbl_default@") for e in events)
    assert "f1@0.3" in r.stdout and "prompt for a multimodal LLM" in r.stdout
    assert (out / "prompt.txt").read_text().strip()
    json.loads((out / "events.json").read_text())
