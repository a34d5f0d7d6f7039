"""A small client for OpenAI-compatible ``/v1/chat/completions`` servers (vLLM, Ollama,
llama.cpp server, hosted APIs), with timeouts, retries and a strict JSON answer schema.

Standard library only (``urllib`` + ``http.client``). Every request has a deadline for the
whole exchange (connect, headers, body: a server that trickles bytes cannot hold it open), the
API key never leaves the configured origin (redirects to another host, port or scheme are
refused, see :class:`_SameOriginRedirects`), and protocol garbage (a non-HTTP reply, a short
body, an endless header line) is one :class:`LLMError` line. The answer must be one JSON object
``{"label": <allowed label>, "confidence": <0..1>, "rationale": <string>}``, optionally inside
a Markdown ```json fence; anything else is an :class:`LLMAnswerError` that carries the raw text.
"""
from __future__ import annotations

import http.client
import json
import logging
import math
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from nfbl.core.errors import NfblError
from nfbl.core.atomic import atomic_open

log = logging.getLogger(__name__)

ENV_URL = "NFBL_LLM_URL"
ENV_MODEL = "NFBL_LLM_MODEL"
ENV_KEY = "NFBL_LLM_API_KEY"
ENV_KEY_FALLBACK = "OPENAI_API_KEY"
_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
_FENCE_RE = re.compile(r"^```(?:json|JSON)?[ \t]*\n(.*)\n```$", re.S)
#: the most bytes of a response body read (a chat completion is a few kB)
MAX_BODY = 16 * 1024 * 1024
_CHUNK = 65536


class LLMError(NfblError):
    """The server could not be reached or answered with an HTTP error."""


class LLMAnswerError(NfblError):
    """The model's answer does not follow the JSON schema; ``raw`` holds the answer text."""

    def __init__(self, message: str, raw: str):
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to call the server. ``timeout_s`` is a deadline for each try as a whole
    (connecting, sending, the headers and the whole body); a request is
    tried ``1 + max_retries`` times with ``backoff_s * 2**attempt`` seconds between tries.
    ``json_mode``: ``"auto"`` sends ``response_format={"type": "json_object"}`` and drops it
    when the server rejects it with HTTP 400; ``"on"`` always sends it; ``"off"`` never."""

    base_url: str
    model: str = ""
    api_key: str | None = None
    timeout_s: float = 120.0
    max_retries: int = 3
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    temperature: float = 0.0
    max_tokens: int = 512
    json_mode: str = "auto"

    def __post_init__(self) -> None:
        if not self.base_url or not re.match(r"^https?://", self.base_url):
            raise NfblError(f"LLM URL {self.base_url!r} must start with http:// or https:// "
                            f"(set --llm-url or {ENV_URL})")
        if self.json_mode not in ("auto", "on", "off"):
            raise NfblError(f"json_mode must be auto, on or off, got {self.json_mode!r}")
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0) or self.max_retries < 0:
            raise NfblError(f"LLM timeout must be a finite number of seconds > 0 and retries "
                            f">= 0, got {self.timeout_s} and {self.max_retries}")

    @classmethod
    def from_env(cls, base_url: str | None = None, model: str | None = None,
                 api_key: str | None = None, **kw) -> "LLMConfig":
        """Options win over the environment (NFBL_LLM_URL, NFBL_LLM_MODEL, NFBL_LLM_API_KEY,
        then OPENAI_API_KEY)."""
        url = base_url or os.environ.get(ENV_URL)
        if not url:
            raise NfblError(f"no LLM server given; pass --llm-url (e.g. http://localhost:8000/v1) "
                            f"or set {ENV_URL}")
        key = api_key or os.environ.get(ENV_KEY) or os.environ.get(ENV_KEY_FALLBACK)
        return cls(base_url=url, model=model or os.environ.get(ENV_MODEL, ""), api_key=key, **kw)

    @property
    def endpoint(self) -> str:
        """``.../v1/chat/completions`` from a base URL with or without ``/v1``."""
        url = self.base_url.rstrip("/")
        if url.endswith("/chat/completions"):
            return url
        if url.endswith("/v1"):
            return url + "/chat/completions"
        return url + "/v1/chat/completions"


@dataclass(frozen=True)
class EmotionAnswer:
    """A validated answer: ``label`` is one of the allowed labels (their spelling)."""

    label: str
    confidence: float
    rationale: str

    def to_dict(self) -> dict:
        return {"label": self.label, "confidence": self.confidence, "rationale": self.rationale}


def parse_answer(text: str, labels: Sequence[str]) -> EmotionAnswer:
    """Validate the model's answer text against the schema; raises :class:`LLMAnswerError`.

    Accepted: the JSON object alone, or wrapped in one ```json fence (surrounding whitespace
    ignored). The object has exactly the keys label, confidence, rationale; the label matches an
    allowed label ignoring case; confidence is a number in [0, 1]; rationale is a string.
    """
    raw = text if isinstance(text, str) else json.dumps(text)
    body = raw.strip()
    m = _FENCE_RE.match(body)
    if m:
        body = m.group(1).strip()
    try:
        obj = json.loads(body)
    except (json.JSONDecodeError, ValueError):
        raise LLMAnswerError("the LLM's answer is not a JSON object", raw) from None
    if not isinstance(obj, dict):
        raise LLMAnswerError("the LLM's answer is JSON but not an object", raw)
    keys = set(obj)
    need = {"label", "confidence", "rationale"}
    if keys != need:
        missing, extra = sorted(need - keys), sorted(keys - need)
        raise LLMAnswerError(f"the LLM's answer must have exactly the keys label, confidence, "
                             f"rationale (missing {missing}, unexpected {extra})", raw)
    allowed = {lab.lower(): lab for lab in labels}
    label = obj["label"]
    if not isinstance(label, str) or label.strip().lower() not in allowed:
        raise LLMAnswerError(f"the LLM's label {label!r} is not one of {list(labels)}", raw)
    conf = obj["confidence"]
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0.0 <= float(conf) <= 1.0:
        raise LLMAnswerError(f"the LLM's confidence {conf!r} is not a number in [0, 1]", raw)
    if not isinstance(obj["rationale"], str):
        raise LLMAnswerError("the LLM's rationale is not a string", raw)
    return EmotionAnswer(allowed[label.strip().lower()], float(conf), obj["rationale"].strip())


def save_raw_answer(raw: str, folder: str | Path, stem: str) -> Path:
    """Write the raw answer to ``folder/<stem>.llm-answer.txt`` (atomically); return the path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)[:80] or "answer"
    path = Path(folder) / f"{safe}.llm-answer.txt"
    with atomic_open(path) as fh:
        fh.write(raw)
    return path


class _Deadline:
    """One deadline for a whole try. A socket timeout bounds each read, not their sum (a
    server sending one byte a second never trips it); at the deadline this shuts down every
    socket of the try, so a blocked read returns at once, wherever it is (headers or body)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._end = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        """Seconds left; raises ``TimeoutError`` when none are."""
        left = self._end - time.monotonic()
        if left <= 0 or self.expired:
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._socks.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Shut a socket down (both ways) without closing it; the plain socket method, also for
    TLS sockets (``SSLSocket.shutdown`` would drop the TLS state under a reading thread)."""
    try:
        if sock.fileno() != -1:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def _deadline_connection(base: type, deadline: _Deadline) -> type:
    """``base`` (HTTP or HTTPS connection) whose connect waits at most the time left and whose
    socket the deadline watches."""

    class _Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            self.timeout = deadline.remaining()
            super().connect()
            deadline.watch(self.sock)

    return _Connection


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def http_open(self, req):  # noqa: D102
        return self.do_open(_deadline_connection(http.client.HTTPConnection, self._deadline), req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline):
        super().__init__()
        self._deadline = deadline

    def https_open(self, req):  # noqa: D102
        return self.do_open(_deadline_connection(http.client.HTTPSConnection, self._deadline),
                            req, context=self._context)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def same_origin(old: str, new: str) -> bool:
    """Whether a redirect from ``old`` to ``new`` stays where the API key may go: the same
    scheme, host and port, or the same host moving from http to https on the default port."""
    o, n = _origin(old), _origin(new)
    if o == n:
        return True
    return o[0] == "http" and n[0] == "https" and o[1] == n[1] and n[2] == 443


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects: refused when they leave the origin (urllib would send the ``Authorization``
    header to the new host); within the origin, 307/308 repeat the POST with its body and
    headers; 301/302/303 (which turn a POST into a GET) are refused with the target named."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: D102
        old = req.full_url
        if not same_origin(old, newurl):
            fp.close()
            raise LLMError(f"LLM server {old} redirected (HTTP {code}) to another host or scheme "
                           f"({_where(newurl)}); not followed, so the API key is not sent there: "
                           "set --llm-url to the address you mean to trust")
        if code in (307, 308):
            return urllib.request.Request(newurl, data=req.data, headers=dict(req.header_items()),
                                          method=req.get_method(),
                                          origin_req_host=req.origin_req_host, unverifiable=True)
        fp.close()
        raise LLMError(f"LLM server {old} redirected (HTTP {code}) to {newurl}, which would turn "
                       "the chat request into a GET; set --llm-url to the final address")


def _where(url: str) -> str:
    """scheme://host:port of a URL (no path, no query: they may carry tokens)."""
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}" + (f":{port}" if port else "")


class _TryFailed(Exception):
    """One try failed: ``problem`` (one line), whether a retry makes sense, Retry-After."""

    def __init__(self, problem: str, retry: bool, retry_after: str | None = None,
                 status: int | None = None, detail: str = ""):
        super().__init__(problem)
        self.problem, self.retry, self.retry_after = problem, retry, retry_after
        self.status, self.detail = status, detail


def _read_body(resp, deadline: _Deadline) -> bytes:
    """The whole body of ``resp`` in chunks, checking the deadline between them; a body shorter
    than its Content-Length is an ``IncompleteRead``; more than :data:`MAX_BODY` is refused."""
    chunks: list[bytes] = []
    n = 0
    while True:
        deadline.remaining()
        chunk = resp.read(_CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        n += len(chunk)
        if n > MAX_BODY:
            raise _TryFailed(f"the answer is larger than {MAX_BODY // 2**20} MiB", False)
    body = b"".join(chunks)
    length = getattr(resp, "length", None)
    if length:  # http.client leaves what is still owed here when the connection ends early
        raise http.client.IncompleteRead(body, length)
    return body


def _describe(exc: BaseException, timeout_s: float) -> tuple[str, bool]:
    """One line for a transport failure, and whether a retry makes sense."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _describe(exc.reason, timeout_s)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no complete answer within {timeout_s:g} s", True
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without an answer", True
    if isinstance(exc, ConnectionResetError):
        return f"the server reset the connection ({_one_line(exc)})", True
    if isinstance(exc, http.client.IncompleteRead):
        got = len(exc.partial or b"")
        owed = f" of {got + exc.expected}" if isinstance(exc.expected, int) else ""
        return f"the answer was cut short ({got}{owed} bytes arrived)", True
    if isinstance(exc, http.client.LineTooLong):
        return f"not an HTTP answer a chat server sends ({_one_line(exc)})", False
    if isinstance(exc, http.client.BadStatusLine):
        return (f"the reply is not HTTP (status line {_one_line(exc.line)[:60]!r}; is the "
                "scheme or port wrong?)"), False
    if isinstance(exc, http.client.HTTPException):
        return f"a malformed HTTP answer ({type(exc).__name__}: {_one_line(exc)})", False
    if isinstance(exc, urllib.error.URLError):
        return f"cannot connect ({_one_line(exc.reason)})", True
    return f"cannot connect ({_one_line(exc)})", True


def _one_line(x: object) -> str:
    return " ".join(str(x).split())


class ChatClient:
    """POSTs chat requests with ``urllib`` (no proxies for localhost; the usual proxy
    variables otherwise), one :class:`_Deadline` per try, same-origin redirects only."""

    def __init__(self, config: LLMConfig, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        host = urllib.parse.urlsplit(config.endpoint).hostname or ""
        self._local = host in ("localhost", "127.0.0.1", "::1")
        self._sleep = sleep
        self._json_mode = config.json_mode != "off"

    def _opener(self, deadline: _Deadline) -> urllib.request.OpenerDirector:
        handlers: list = [_DeadlineHTTPHandler(deadline), _DeadlineHTTPSHandler(deadline),
                          _SameOriginRedirects()]
        if self._local:  # a local server: never via a proxy
            handlers.append(urllib.request.ProxyHandler({}))
        return urllib.request.build_opener(*handlers)

    def _request(self, payload: dict) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return urllib.request.Request(self.config.endpoint, data=json.dumps(payload).encode("utf-8"),
                                      headers=headers, method="POST")

    def _payload(self, messages: Sequence[dict]) -> dict:
        payload: dict = {"messages": list(messages), "temperature": self.config.temperature,
                         "max_tokens": self.config.max_tokens, "stream": False}
        if self.config.model:
            payload["model"] = self.config.model
        if self._json_mode:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = self.config.backoff_s * (2 ** attempt)
        if retry_after:
            try:
                delay = max(delay, float(retry_after))
            except ValueError:
                pass
        return min(delay, self.config.max_backoff_s)

    def _try(self, payload: dict) -> bytes:
        """One try within one deadline: the body of a 2xx answer, else :class:`_TryFailed`."""
        cfg = self.config
        deadline = _Deadline(cfg.timeout_s)
        try:
            try:
                with self._opener(deadline).open(self._request(payload),
                                                 timeout=cfg.timeout_s) as resp:
                    return _read_body(resp, deadline)
            except urllib.error.HTTPError as exc:
                body = _read_body(exc, deadline) if exc.fp else b""
                raise _TryFailed(f"HTTP {exc.code}: {_short(body)}", exc.code in _RETRY_STATUS,
                                 exc.headers.get("Retry-After") if exc.headers else None,
                                 status=exc.code, detail=_short(body)) from None
        except (_TryFailed, LLMError):
            raise
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if deadline.expired:
                raise _TryFailed(f"no complete answer within {cfg.timeout_s:g} s", True) from None
            if isinstance(exc, ValueError) and not isinstance(exc, urllib.error.URLError):
                raise
            problem, retry = _describe(exc, cfg.timeout_s)
            raise _TryFailed(problem, retry) from None
        finally:
            deadline.cancel()

    def complete(self, messages: Sequence[dict]) -> str:
        """Send the messages; return the first choice's message content (a string)."""
        cfg = self.config
        attempt = 0
        while True:
            try:
                return self._content(self._try(self._payload(messages)))
            except _TryFailed as failed:
                if failed.status == 400 and self._json_mode and cfg.json_mode == "auto" \
                        and "response_format" in failed.detail:
                    log.info("server rejected response_format; retrying without it")
                    self._json_mode = False
                    continue
                if failed.status is not None and not failed.retry:
                    raise LLMError(f"LLM server {cfg.endpoint} answered HTTP {failed.status}: "
                                   f"{failed.detail}"
                                   f"{' (check the API key)' if failed.status in (401, 403) else ''}"
                                   ) from None
                if not failed.retry:
                    raise LLMError(f"LLM server {cfg.endpoint}: {failed.problem}; not retried "
                                   "(check --llm-url)") from None
                problem, retry_after = failed.problem, failed.retry_after
            if attempt >= cfg.max_retries:
                raise LLMError(f"LLM server {cfg.endpoint}: {problem}; gave up after "
                               f"{attempt + 1} tries (check --llm-url, or raise --timeout)")
            delay = self._delay(attempt, retry_after)
            log.warning("LLM request failed (%s); retry %d/%d in %.1f s", problem, attempt + 1,
                        cfg.max_retries, delay)
            self._sleep(delay)
            attempt += 1

    def _content(self, body: bytes) -> str:
        try:
            data = json.loads(body.decode("utf-8"))
            content = data["choices"][0]["message"]["content"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise LLMAnswerError(f"LLM server {self.config.endpoint} did not return a chat "
                                 "completion (no choices[0].message.content)",
                                 body.decode("utf-8", "replace")) from None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise LLMAnswerError("the LLM's message content is not text", json.dumps(content))
        return content


def _short(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "") or "(empty body)"


def classify(messages: Sequence[dict], labels: Sequence[str], config: LLMConfig,
             raw_dir: str | Path, stem: str = "answer", client: ChatClient | None = None
             ) -> EmotionAnswer:
    """Ask the model; validate its answer. On a schema violation the raw answer is saved to
    ``raw_dir`` and an :class:`LLMAnswerError` names the file."""
    client = client or ChatClient(config)
    try:
        text = client.complete(messages)
        return parse_answer(text, labels)
    except LLMAnswerError as exc:
        path = save_raw_answer(exc.raw, raw_dir, stem)
        raise LLMAnswerError(f"{exc}; raw answer saved to {path}", exc.raw) from None
