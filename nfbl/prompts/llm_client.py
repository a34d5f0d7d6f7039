"""A small client for OpenAI-compatible ``/v1/chat/completions`` servers (vLLM, Ollama,
llama.cpp server, hosted APIs), with timeouts, retries and a strict JSON answer schema.

Standard library only (``urllib``). The answer must be one JSON object
``{"label": <allowed label>, "confidence": <0..1>, "rationale": <string>}``, optionally inside
a Markdown ```json fence; anything else is an :class:`LLMAnswerError` that carries the raw text.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
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


class LLMError(NfblError):
    """The server could not be reached or answered with an HTTP error."""


class LLMAnswerError(NfblError):
    """The model's answer does not follow the JSON schema; ``raw`` holds the answer text."""

    def __init__(self, message: str, raw: str):
        super().__init__(message)
        self.raw = raw


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to call the server. ``timeout_s`` applies per request; a request is
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
        if self.timeout_s <= 0 or self.max_retries < 0:
            raise NfblError("LLM timeout must be > 0 and retries >= 0")

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


Opener = Callable[..., object]


class ChatClient:
    """POSTs chat requests; ``opener`` (default ``urllib.request.urlopen``, without proxies for
    localhost) is replaceable."""

    def __init__(self, config: LLMConfig, opener: Opener | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.config = config
        if opener is None:
            host = urllib.parse.urlsplit(config.endpoint).hostname or ""
            if host in ("localhost", "127.0.0.1", "::1"):  # a local server: never via a proxy
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({})).open
            else:
                opener = urllib.request.urlopen
        self._open = opener
        self._sleep = sleep
        self._json_mode = config.json_mode != "off"

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

    def complete(self, messages: Sequence[dict]) -> str:
        """Send the messages; return the first choice's message content (a string)."""
        cfg = self.config
        attempt = 0
        while True:
            req = self._request(self._payload(messages))
            problem: str
            retry_after = None
            try:
                with self._open(req, timeout=cfg.timeout_s) as resp:  # type: ignore[attr-defined]
                    body = resp.read()
                return self._content(body)
            except urllib.error.HTTPError as exc:
                detail = _short(exc.read() if exc.fp else b"")
                if exc.code == 400 and self._json_mode and cfg.json_mode == "auto" \
                        and "response_format" in detail:
                    log.info("server rejected response_format; retrying without it")
                    self._json_mode = False
                    continue
                if exc.code not in _RETRY_STATUS:
                    raise LLMError(f"LLM server {cfg.endpoint} answered HTTP {exc.code}: {detail}"
                                   f"{' (check the API key)' if exc.code in (401, 403) else ''}"
                                   ) from None
                problem = f"HTTP {exc.code}: {detail}"
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
            except (urllib.error.URLError, ConnectionError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    problem = f"no answer within {cfg.timeout_s:g} s"
                else:
                    problem = f"cannot connect ({reason})"
            except (socket.timeout, TimeoutError):
                problem = f"no answer within {cfg.timeout_s:g} s"
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
