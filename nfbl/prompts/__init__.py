"""NFBL events → statistics, feature vectors, MLLM prompts, an LLM client, emotion baselines.

Modules: :mod:`~nfbl.prompts.aggregate` (per-video/per-person statistics and the fixed-length
feature vector), :mod:`~nfbl.prompts.summary_text` (statistics and timeline as text, with a
size budget), :mod:`~nfbl.prompts.templates` (versioned templates, prompt builder),
:mod:`~nfbl.prompts.llm_client` (OpenAI-compatible chat completions, strict JSON answers) and
:mod:`~nfbl.prompts.emotion` (scikit-learn baselines, imported lazily).
"""
from __future__ import annotations

from nfbl.prompts.aggregate import (FEATURE_NAMES, AggregateConfig, Summary, feature_matrix,
                                    feature_vector, summarise, summarise_video)
from nfbl.prompts.summary_text import summary_text, timeline_text
from nfbl.prompts.templates import (Prompt, PromptConfig, build_prompt, load_template,
                                    prompts_for_stream)

__all__ = ["FEATURE_NAMES", "AggregateConfig", "Summary", "feature_matrix", "feature_vector",
           "summarise", "summarise_video", "summary_text", "timeline_text", "Prompt",
           "PromptConfig", "build_prompt", "load_template", "prompts_for_stream"]
