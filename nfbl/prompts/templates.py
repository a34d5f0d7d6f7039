"""Versioned prompt templates and the prompt builder (NFBL summary → chat messages).

A template is a text file with ``@@ meta``, ``@@ system`` and ``@@ user`` sections and
``string.Template`` placeholders (see ``nfbl/prompts/templates/eald-v1.txt``). Bundled
templates are addressed by name (``eald-v1``); any other file by its path.

Keyframes are attached only when the caller asserts that they are de-identified: raw frames
with faces must never leave the machine.
"""
from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from nfbl.core.errors import InputFormatError, NfblError
from nfbl.core.events import Event, EventStream
from nfbl.prompts.aggregate import AggregateConfig, Summary, summarise
from nfbl.prompts.summary_text import summary_text, timeline_text

TEMPLATE_DIR = Path(__file__).with_name("templates")
DEFAULT_TEMPLATE = "eald-v1"
DEFAULT_LABELS: tuple[str, ...] = ("positive", "negative")
MAX_KEYFRAMES = 8
MAX_KEYFRAME_BYTES = 4 * 1024 * 1024
_VARIABLES = {"video_id", "labels", "labels_json", "summary", "timeline", "transcript_block",
              "images_block"}
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\- ]{0,39}$")


@dataclass(frozen=True)
class PromptTemplate:
    """A parsed template: ``name`` (e.g. ``eald-v1``), system and user text with placeholders."""

    name: str
    description: str
    system: str
    user: str
    source: str = ""


@dataclass(frozen=True)
class PromptConfig:
    """Size limits of the rendered prompt (characters)."""

    max_timeline_chars: int = 6000
    max_transcript_chars: int = 4000
    timeline_merge_gap_s: float = 2.0


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt of one video. ``images`` are data URLs (de-identified keyframes)."""

    template: str
    video_id: str
    labels: tuple[str, ...]
    system: str
    user: str
    images: tuple[str, ...] = ()
    image_paths: tuple[str, ...] = ()
    info: dict = field(default_factory=dict, compare=False)

    def to_messages(self) -> list[dict]:
        """OpenAI-style chat messages (``content`` becomes a parts list when images exist)."""
        if self.images:
            content: object = [{"type": "text", "text": self.user}] + [
                {"type": "image_url", "image_url": {"url": url}} for url in self.images]
        else:
            content = self.user
        return [{"role": "system", "content": self.system}, {"role": "user", "content": content}]

    def to_dict(self) -> dict:
        return {"template": self.template, "video_id": self.video_id, "labels": list(self.labels),
                "messages": self.to_messages(), "info": self.info}

    def to_text(self) -> str:
        parts = [f"### system\n{self.system}", f"### user\n{self.user}"]
        for i, p in enumerate(self.image_paths, 1):
            parts.append(f"### image {i}: {p} (de-identified keyframe, sent as a data URL)")
        return "\n\n".join(parts) + "\n"


def list_templates() -> list[str]:
    """Names of the bundled templates."""
    return sorted(p.stem for p in TEMPLATE_DIR.glob("*.txt"))


def parse_template(text: str, source: str = "<string>") -> PromptTemplate:
    """Parse the ``@@ section`` format; unknown placeholders are an error."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("@@"):
            current = line[2:].strip().lower()
            if current not in ("meta", "system", "user"):
                raise InputFormatError(f"unknown template section {current!r} "
                                       "(use meta, system, user)", source, lineno)
            sections[current] = []
        elif current is None:
            if line.strip() and not line.lstrip().startswith("#"):
                raise InputFormatError("text before the first '@@ section' line", source, lineno)
        else:
            sections[current].append(line)
    for need in ("system", "user"):
        if need not in sections:
            raise InputFormatError(f"template has no '@@ {need}' section", source)
    meta: dict[str, str] = {}
    for line in sections.get("meta", []):
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise InputFormatError(f"meta line {line!r} is not 'key = value'", source)
            meta[key.strip()] = value.strip()
    body = {k: "\n".join(v).strip("\n") for k, v in sections.items()}
    for k in ("system", "user"):
        try:
            names = {m.group("named") or m.group("braced")
                     for m in string.Template.pattern.finditer(body[k])
                     if m.group("named") or m.group("braced")}
        except ValueError as exc:  # pragma: no cover - pattern always compiles
            raise InputFormatError(str(exc), source) from None
        unknown = names - _VARIABLES
        if unknown:
            raise InputFormatError(f"unknown placeholder(s) {sorted(unknown)} in section {k!r}; "
                                   f"known: {sorted(_VARIABLES)}", source)
    name = meta.get("name") or Path(source).stem
    return PromptTemplate(name=name, description=meta.get("description", ""),
                          system=body["system"], user=body["user"], source=source)


def load_template(name_or_path: str = DEFAULT_TEMPLATE) -> PromptTemplate:
    """A bundled template by name (``eald-v1``) or a template file by path."""
    bundled = TEMPLATE_DIR / f"{name_or_path}.txt"
    if "/" not in name_or_path and bundled.is_file():
        path = bundled
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise NfblError(f"unknown prompt template {name_or_path!r}; bundled templates: "
                            f"{', '.join(list_templates())}, or give a template file path")
    return parse_template(path.read_text(encoding="utf-8"), str(path))


def parse_labels(labels: str | Sequence[str] | None) -> tuple[str, ...]:
    """Validate a label set (``"positive,negative"`` or a sequence); ≥ 2 distinct labels."""
    if labels is None:
        return DEFAULT_LABELS
    items = [s.strip() for s in (labels.split(",") if isinstance(labels, str) else labels)]
    items = [s for s in items if s]
    if len(items) < 2:
        raise NfblError(f"need at least two emotion labels, got {items!r} (e.g. positive,negative)")
    if len({s.lower() for s in items}) != len(items):
        raise NfblError(f"emotion labels must be distinct, got {items!r}")
    for s in items:
        if not _LABEL_RE.match(s):
            raise NfblError(f"emotion label {s!r} must start with a letter and use letters, digits, "
                            "'_', '-' or spaces (at most 40 characters)")
    return tuple(items)


def keyframe_data_url(path: str | Path) -> str:
    """A PNG/JPEG/WebP file → ``data:image/...;base64,...`` (type from the file's bytes)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) > MAX_KEYFRAME_BYTES:
        raise NfblError(f"{path}: keyframe is {len(data)} bytes; the limit is "
                        f"{MAX_KEYFRAME_BYTES} (resize it)")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    else:
        raise InputFormatError("keyframe is not a PNG, JPEG or WebP image", path)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def build_prompt(summary: Summary, events: Sequence[Event], template: PromptTemplate | str = DEFAULT_TEMPLATE,
                 labels: str | Sequence[str] | None = None, transcript: str | None = None,
                 keyframes: Sequence[str | Path] = (), keyframes_deidentified: bool = False,
                 config: PromptConfig = PromptConfig()) -> Prompt:
    """Render the prompt of one video from its summary and its events.

    ``keyframes`` are refused unless ``keyframes_deidentified`` is True (the caller asserts the
    images show no identifiable face).
    """
    tpl = load_template(template) if isinstance(template, str) else template
    labs = parse_labels(labels)
    if keyframes and not keyframes_deidentified:
        raise NfblError("refusing to attach keyframes: raw frames with faces must never be sent; "
                        "blur or mask the faces first, then confirm with "
                        "--keyframes-deidentified")
    if len(keyframes) > MAX_KEYFRAMES:
        raise NfblError(f"{len(keyframes)} keyframes given; at most {MAX_KEYFRAMES} are attached")
    images = tuple(keyframe_data_url(p) for p in keyframes)
    video_events = [e for e in events if e.video_id == summary.video_id]
    tl = timeline_text(video_events, config.max_timeline_chars, config.timeline_merge_gap_s)
    transcript_block = ""
    transcript_cut = False
    if transcript is not None and transcript.strip():
        t = transcript.strip()
        if len(t) > config.max_transcript_chars:
            t = t[:config.max_transcript_chars].rstrip() + " [... transcript cut here]"
            transcript_cut = True
        transcript_block = f"\nTranscript of what the person said:\n{t}\n"
    images_block = ""
    if images:
        images_block = (f"\n{len(images)} de-identified keyframe(s) of the video are attached "
                        "(faces removed); use them only for posture and context.\n")
    values = {
        "video_id": summary.video_id,
        "labels": ", ".join(labs),
        "labels_json": json.dumps(list(labs)),
        "summary": summary_text(summary),
        "timeline": tl.text,
        "transcript_block": transcript_block,
        "images_block": images_block,
    }
    system = string.Template(tpl.system).substitute(values)
    user = string.Template(tpl.user).substitute(values)
    info = {"n_events": tl.n_events, "timeline_lines": tl.n_lines, "timeline_omitted": tl.n_omitted,
            "timeline_merged": tl.merged, "transcript_cut": transcript_cut,
            "duration_s": summary.duration_s, "duration_source": summary.duration_source}
    return Prompt(template=tpl.name, video_id=summary.video_id, labels=labs, system=system,
                  user=user, images=images, image_paths=tuple(str(p) for p in keyframes), info=info)


def prompts_for_stream(stream: EventStream, duration_s: float | None = None,
                       durations: Mapping[str, float] | None = None,
                       template: PromptTemplate | str = DEFAULT_TEMPLATE,
                       labels: str | Sequence[str] | None = None,
                       config: PromptConfig = PromptConfig(),
                       aggregate: AggregateConfig = AggregateConfig(),
                       video_ids: Sequence[str] | None = None) -> list[Prompt]:
    """One prompt per video of ``stream`` (e.g. for ``nfbl detect``). Pass ``video_ids`` to name
    the videos of an empty stream (it then still gets a "no NFBL observed" prompt)."""
    tpl = load_template(template) if isinstance(template, str) else template
    return [build_prompt(s, stream.events, tpl, labels, config=config)
            for s in summarise(stream, duration_s, durations, aggregate, video_ids)]
