"""LLM client against a small OpenAI-compatible server started on 127.0.0.1 by the test.

The server answers a scripted, bounded list of responses (then 503) and records every request.
"""
from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from nfbl.core.errors import NfblError
from nfbl.prompts.llm_client import (ChatClient, LLMAnswerError, LLMConfig, LLMError, classify,
                                     parse_answer, same_origin)

LABELS = ("positive", "negative")
GOOD = '{"label": "negative", "confidence": 0.7, "rationale": "Folded arms and fidgeting."}'
MESSAGES = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
MAX_REQUESTS = 10


def completion(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    ]}).encode()


class FakeServer:
    """Scripted responses: a list of (status, body bytes, delay seconds), or
    (status, body, delay, extra headers)."""

    def __init__(self, script):
        self.script = list(script)
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                outer.requests.append({"path": self.path, "body": body,
                                       "auth": self.headers.get("Authorization")})
                if len(outer.requests) > MAX_REQUESTS or not outer.script:
                    status, payload, delay = 503, b'{"error": "script exhausted"}', 0.0
                else:
                    status, payload, delay, *extra = outer.script.pop(0)
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    for k, v in (extra[0] if extra else {}).items():
                        self.send_header(k, v)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def cfg(url: str, **kw) -> LLMConfig:
    kw.setdefault("timeout_s", 5.0)
    kw.setdefault("backoff_s", 0.01)
    return LLMConfig(base_url=url, model="test-model", **kw)


def test_parse_answer_strict():
    assert parse_answer(GOOD, LABELS).label == "negative"
    fenced = f"```json\n{GOOD}\n```"
    assert parse_answer(f"  {fenced}\n", LABELS).confidence == 0.7
    assert parse_answer(GOOD.replace("negative", "Negative"), LABELS).label == "negative"
    for bad in ["I think negative.", f"Sure! {GOOD}", f"```\n{GOOD}\n``` extra", "[1, 2]",
                GOOD.replace("negative", "sad"), GOOD.replace("0.7", "1.5"),
                GOOD.replace("0.7", "true"), GOOD.replace("0.7", '"high"'),
                GOOD[:-1] + ', "extra": 1}', '{"label": "negative", "confidence": 0.5}']:
        with pytest.raises(LLMAnswerError):
            parse_answer(bad, LABELS)


def test_endpoint_and_env(monkeypatch):
    assert cfg("http://h:1").endpoint == "http://h:1/v1/chat/completions"
    assert cfg("http://h:1/v1/").endpoint == "http://h:1/v1/chat/completions"
    assert cfg("http://h:1/api/chat/completions").endpoint == "http://h:1/api/chat/completions"
    with pytest.raises(NfblError, match="http"):
        LLMConfig(base_url="localhost:8000")
    for k in ("NFBL_LLM_URL", "NFBL_LLM_MODEL", "NFBL_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    with pytest.raises(NfblError, match="NFBL_LLM_URL"):
        LLMConfig.from_env()
    monkeypatch.setenv("NFBL_LLM_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NFBL_LLM_MODEL", "m1")
    monkeypatch.setenv("OPENAI_API_KEY", "k-openai")
    c = LLMConfig.from_env()
    assert (c.base_url, c.model, c.api_key) == ("http://127.0.0.1:9/v1", "m1", "k-openai")
    monkeypatch.setenv("NFBL_LLM_API_KEY", "k-nfbl")
    assert LLMConfig.from_env(model="m2").api_key == "k-nfbl"
    assert LLMConfig.from_env(model="m2").model == "m2"


def test_good_answer_and_request_shape(tmp_path):
    with FakeServer([(200, completion(GOOD), 0)]) as srv:
        ans = classify(MESSAGES, LABELS, cfg(srv.url, api_key="sk-test"), tmp_path)
    assert (ans.label, ans.confidence) == ("negative", 0.7)
    assert len(srv.requests) == 1
    r = srv.requests[0]
    assert r["path"] == "/v1/chat/completions" and r["auth"] == "Bearer sk-test"
    assert r["body"]["model"] == "test-model" and r["body"]["messages"] == MESSAGES
    assert r["body"]["response_format"] == {"type": "json_object"}
    assert r["body"]["temperature"] == 0.0


def test_fenced_json_answer(tmp_path):
    with FakeServer([(200, completion(f"```json\n{GOOD}\n```"), 0)]) as srv:
        assert classify(MESSAGES, LABELS, cfg(srv.url), tmp_path).label == "negative"


def test_nonsense_answer_is_an_error_with_raw_saved(tmp_path):
    raw = "The person seems, hmm, fine?"
    with FakeServer([(200, completion(raw), 0)]) as srv:
        with pytest.raises(LLMAnswerError) as info:
            classify(MESSAGES, LABELS, cfg(srv.url), tmp_path, stem="vid/01")
    msg = str(info.value)
    assert "\n" not in msg and "raw answer saved to " in msg
    saved = Path(msg.split("raw answer saved to ")[1])
    assert saved.parent == tmp_path and saved.read_text() == raw
    assert len(srv.requests) == 1  # a bad answer is not retried


def test_not_a_completion_is_an_error(tmp_path):
    with FakeServer([(200, b"<html>proxy</html>", 0)]) as srv:
        with pytest.raises(LLMAnswerError, match="did not return a chat completion"):
            classify(MESSAGES, LABELS, cfg(srv.url), tmp_path)
    assert (tmp_path / "answer.llm-answer.txt").read_text() == "<html>proxy</html>"


def test_retry_after_500_then_success(tmp_path):
    sleeps = []
    with FakeServer([(500, b'{"error": "boom"}', 0), (429, b"{}", 0),
                     (200, completion(GOOD), 0)]) as srv:
        client = ChatClient(cfg(srv.url, max_retries=3), sleep=sleeps.append)
        ans = classify(MESSAGES, LABELS, client.config, tmp_path, client=client)
    assert ans.label == "negative" and len(srv.requests) == 3
    assert sleeps == [0.01, 0.02]  # exponential backoff


def test_gives_up_after_retries(tmp_path):
    with FakeServer([(503, b"busy", 0)] * 3) as srv:
        client = ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None)
        with pytest.raises(LLMError, match="HTTP 503.*gave up after 3 tries"):
            client.complete(MESSAGES)
    assert len(srv.requests) == 3


def test_client_error_is_not_retried():
    with FakeServer([(401, b'{"error": "bad key"}', 0)]) as srv:
        with pytest.raises(LLMError, match="HTTP 401.*API key"):
            ChatClient(cfg(srv.url)).complete(MESSAGES)
    assert len(srv.requests) == 1


def test_response_format_dropped_when_rejected():
    with FakeServer([(400, b'{"error": "response_format is not supported"}', 0),
                     (200, completion(GOOD), 0)]) as srv:
        assert ChatClient(cfg(srv.url)).complete(MESSAGES) == GOOD
    assert "response_format" in srv.requests[0]["body"]
    assert "response_format" not in srv.requests[1]["body"]


def test_timeout(tmp_path):
    with FakeServer([(200, completion(GOOD), 1.0)]) as srv:
        client = ChatClient(cfg(srv.url, timeout_s=0.2, max_retries=0))
        with pytest.raises(LLMError, match="no complete answer within 0.2 s"):
            client.complete(MESSAGES)
    assert len(srv.requests) == 1


def test_connection_refused():
    with FakeServer([]) as srv:
        url = srv.url
    client = ChatClient(cfg(url, max_retries=1), sleep=lambda s: None)
    with pytest.raises(LLMError, match="cannot connect"):
        client.complete(MESSAGES)


# --- through the command line ---------------------------------------------------------------

def _events(tmp_path) -> Path:
    p = tmp_path / "ev.jsonl"
    p.write_text("\n".join(json.dumps(d) for d in [
        {"video_id": "int01", "class_id": 16, "start": 1.0, "end": 4.0, "score": 0.9},
        {"video_id": "int01", "class_id": 22, "start": 5.0, "end": 6.0, "score": 0.7}]) + "\n")
    return p


def _nfbl(*args, env_extra=None):
    import os

    env = {k: v for k, v in os.environ.items()
           if k not in ("NFBL_LLM_URL", "NFBL_LLM_MODEL", "NFBL_LLM_API_KEY", "OPENAI_API_KEY")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "nfbl", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_cli_emotion_llm(tmp_path):
    ev = _events(tmp_path)
    out = tmp_path / "res.json"
    with FakeServer([(200, completion(GOOD), 0)]) as srv:
        r = _nfbl("emotion", ev, "--model", "m", "--duration", 30, "-o", out,
                  env_extra={"NFBL_LLM_URL": srv.url})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("int01\tnegative\t0.70\t")
    res = json.loads(out.read_text())
    assert res[0]["label"] == "negative" and res[0]["template"] == "eald-v1"
    sent = srv.requests[0]["body"]["messages"][1]["content"]
    assert "[00:01–00:04] N16 Folding arms (0.90)" in sent


def test_cli_emotion_llm_nonsense(tmp_path):
    ev = _events(tmp_path)
    with FakeServer([(200, completion("positive!!"), 0)]) as srv:
        r = _nfbl("emotion", ev, "--llm-url", srv.url, "--raw-dir", tmp_path / "raw")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a JSON object" in lines[0] and "Traceback" not in r.stderr
    saved = Path(lines[0].split("raw answer saved to ")[1])
    assert saved.read_text() == "positive!!"


def test_cli_emotion_needs_url(tmp_path):
    r = _nfbl("emotion", _events(tmp_path))
    assert r.returncode == 2 and "--llm-url" in r.stderr and "Traceback" not in r.stderr


def test_cli_emotion_refuses_raw_keyframes(tmp_path):
    img = tmp_path / "k.jpg"
    img.write_bytes(b"\xff\xd8\xff\xe0fake")
    r = _nfbl("emotion", _events(tmp_path), "--llm-url", "http://127.0.0.1:9/v1",
              "--keyframe", img)
    assert r.returncode == 2 and "--keyframes-deidentified" in r.stderr


# --- security and hostile servers (issue 16) -----------------------------------------------

KEY = "sk-secret-must-not-travel"


def test_same_origin_rule():
    assert same_origin("http://h:8000/v1/x", "http://h:8000/v2/y")
    assert same_origin("http://h/v1", "http://H:80/v1")
    assert same_origin("http://h/v1", "https://h/v1")           # an upgrade on the same host
    assert not same_origin("https://h/v1", "http://h/v1")       # a downgrade
    assert not same_origin("http://h:8000/v1", "http://h:8001/v1")
    assert not same_origin("http://h/v1", "http://evil.example/v1")
    assert not same_origin("http://h/v1", "ftp://h/v1")


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("key_from", ["option", "env"])
def test_cross_host_redirect_is_refused_and_the_key_stays(code, key_from, monkeypatch):
    """A redirect to another origin (here another port: a different server) is refused before
    anything is sent there, whichever way the key was given."""
    monkeypatch.delenv("NFBL_LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeServer([(200, completion(GOOD), 0)] * 2) as other:
        target = other.url + "/chat/completions"
        with FakeServer([(code, b"moved", 0, {"Location": target})]) as srv:
            if key_from == "env":
                monkeypatch.setenv("NFBL_LLM_API_KEY", KEY)
                config = LLMConfig.from_env(srv.url, "m", timeout_s=5.0, backoff_s=0.01)
            else:
                config = cfg(srv.url, api_key=KEY)
            assert config.api_key == KEY
            with pytest.raises(LLMError) as info:
                ChatClient(config, sleep=lambda s: None).complete(MESSAGES)
        assert other.requests == []                 # nothing reached the other host
    msg = str(info.value)
    assert "\n" not in msg and "not followed" in msg and KEY not in msg
    assert len(srv.requests) == 1 and srv.requests[0]["auth"] == f"Bearer {KEY}"


def test_same_origin_307_is_followed_with_body_and_key():
    with FakeServer([]) as srv:
        srv.script[:] = [(307, b"", 0, {"Location": "/v2/chat/completions"}),
                         (200, completion(GOOD), 0)]
        assert ChatClient(cfg(srv.url + "/old/chat/completions", api_key=KEY)
                          ).complete(MESSAGES) == GOOD
    assert [r["path"] for r in srv.requests] == ["/v1/old/chat/completions",
                                                  "/v2/chat/completions"]
    assert srv.requests[1]["auth"] == f"Bearer {KEY}"
    assert srv.requests[1]["body"]["messages"] == MESSAGES


def test_same_origin_302_is_refused_not_turned_into_get():
    with FakeServer([(302, b"", 0, {"Location": "/elsewhere"})]) as srv:
        with pytest.raises(LLMError, match="302.*GET.*--llm-url"):
            ChatClient(cfg(srv.url)).complete(MESSAGES)
    assert len(srv.requests) == 1


class RawServer:
    """A TCP server on 127.0.0.1 whose ``handle(conn)`` writes whatever it likes; counts the
    connections. Handlers run in daemon threads and stop when the client goes away."""

    def __init__(self, handle):
        self.handle = handle
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn):
        try:
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:       # read the request head
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            # ... and the whole body: closing with unread bytes makes the kernel send a reset,
            # which the client would (rightly) report as a reset, not as the failure under test
            head, _, body = data.partition(b"\r\n\r\n")
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            while m and len(body) < int(m.group(1)):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            self.handle(conn, self.stop)
        except OSError:
            pass
        finally:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.sock.close()


def _trickle(head: bytes, body: bytes, per_byte_s: float):
    def handle(conn, stop):
        conn.sendall(head)
        for b in body:
            if stop.wait(per_byte_s):
                return
            conn.sendall(bytes([b]))
    return handle


def _ok_head(n: int) -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n\r\n"
            ).encode()


@pytest.mark.parametrize("where", ["body", "headers"])
def test_timeout_is_a_deadline_for_the_whole_request(where):
    """A server that trickles a byte every 0.1 s keeps each read under any per-read timeout;
    the deadline must still end the try (the full answer would take minutes)."""
    body = completion(GOOD)
    if where == "body":
        handle = _trickle(_ok_head(len(body)), body, 0.1)
    else:
        handle = _trickle(b"", _ok_head(len(body)) + body, 0.1)
    with RawServer(handle) as srv:
        t0 = time.monotonic()
        with pytest.raises(LLMError, match="no complete answer within 0.5 s") as info:
            ChatClient(cfg(srv.url, timeout_s=0.5, max_retries=0)).complete(MESSAGES)
        took = time.monotonic() - t0
    assert took < 5.0, f"the 0.5 s deadline ended the request only after {took:.1f} s"
    assert "\n" not in str(info.value)


def test_garbage_not_http_is_one_line_not_retried():
    with RawServer(lambda conn, stop: conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")) as srv:
        with pytest.raises(LLMError) as info:
            ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None).complete(MESSAGES)
        assert srv.connections == 1
    msg = str(info.value)
    assert "not HTTP" in msg and "SSH-2.0" in msg and "\n" not in msg


def test_garbage_short_body_is_retried_then_one_line():
    body = completion(GOOD)

    def handle(conn, stop):
        conn.sendall(_ok_head(len(body)) + body[:10])   # then the connection closes

    with RawServer(handle) as srv:
        with pytest.raises(LLMError, match=r"cut short \(10 of \d+ bytes.*gave up after 3 tries"):
            ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None).complete(MESSAGES)
        assert srv.connections == 3


def test_garbage_short_body_then_good_answer():
    body = completion(GOOD)
    answers = [_ok_head(len(body)) + body[:10], _ok_head(len(body)) + body]
    with RawServer(lambda conn, stop: conn.sendall(answers.pop(0))) as srv:
        assert ChatClient(cfg(srv.url, max_retries=1), sleep=lambda s: None
                          ).complete(MESSAGES) == GOOD


def test_garbage_header_line_too_long_is_one_line_not_retried():
    def handle(conn, stop):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Junk: " + b"a" * 200_000 + b"\r\n\r\n{}")

    with RawServer(handle) as srv:
        with pytest.raises(LLMError, match="not an HTTP answer.*header line.*not retried") as info:
            ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None).complete(MESSAGES)
        assert srv.connections == 1
    assert len(str(info.value)) < 400


def test_server_closes_without_answer_is_retried():
    with RawServer(lambda conn, stop: None) as srv:
        with pytest.raises(LLMError, match="closed the connection without an answer.*3 tries"):
            ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None).complete(MESSAGES)
        assert srv.connections == 3


def test_server_resets_connection_is_retried_and_named():
    def handle(conn, stop):   # SO_LINGER 0: close() sends a reset, as a crashing proxy does
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with RawServer(handle) as srv:
        with pytest.raises(LLMError, match="reset the connection.*3 tries") as info:
            ChatClient(cfg(srv.url, max_retries=2), sleep=lambda s: None).complete(MESSAGES)
        assert srv.connections == 3
    assert "cannot connect" not in str(info.value)


def test_config_refuses_nonsense_timeouts():
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(NfblError, match="timeout"):
            cfg("http://h:1", timeout_s=bad)


def test_cli_trickle_times_out_under_timeout_2(tmp_path):
    body = completion(GOOD)
    with RawServer(_trickle(_ok_head(len(body)), body, 1.0)) as srv:
        t0 = time.monotonic()
        r = _nfbl("emotion", _events(tmp_path), "--llm-url", srv.url, "--timeout", 2,
                  "--retries", 0)
        took = time.monotonic() - t0
    assert r.returncode == 2 and "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "no complete answer within 2 s" in lines[0]
    assert took < 60, took


@pytest.mark.parametrize("reply", [b"SSH-2.0-OpenSSH_9.2\r\n",
                                   b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200_000 + b"\r\n\r\n"])
def test_cli_protocol_garbage_is_one_line(tmp_path, reply):
    with RawServer(lambda conn, stop: conn.sendall(reply)) as srv:
        r = _nfbl("emotion", _events(tmp_path), "--llm-url", srv.url, "--retries", 0)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_cli_env_key_not_sent_across_hosts(tmp_path):
    with FakeServer([(200, completion(GOOD), 0)]) as other:
        with FakeServer([(302, b"", 0, {"Location": other.url + "/chat/completions"})]) as srv:
            r = _nfbl("emotion", _events(tmp_path), "--llm-url", srv.url, "--retries", 0,
                      env_extra={"OPENAI_API_KEY": KEY})
    assert r.returncode == 2 and "not followed" in r.stderr and "Traceback" not in r.stderr
    assert other.requests == [] and KEY not in r.stderr
