"""Prompt rendering: few-shot text as the task writes it, or the model's own chat template.

    render = prompt_renderer(params.task, "models/base/wc")
    render(task.prompt(problem))
"""

from __future__ import annotations

from typing import Callable

from computematch.errors import ConfigError

from computematch.config import TaskConfig


def prompt_renderer(config: TaskConfig, model_dir) -> Callable[[str], str]:
    """text -> what the model at `model_dir` is given. Each model gets its own template (WC data that trains
    SE is re-rendered with SE's template), so SFT data stores the task's raw prompt."""
    if config.prompt_style != "chat":
        return lambda text: text
    from transformers import AutoTokenizer

    from computematch.models import resolve_weights

    weights, gguf_file = resolve_weights(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(weights, gguf_file=gguf_file)
    if not getattr(tokenizer, "chat_template", None):
        raise ConfigError(f"task.prompt_style: chat, but the model at {model_dir} has no chat template")

    # A tokenizer that adds BOS itself would double a BOS the template writes; one that adds none (SmolLM2, whose
    # "BOS" is <|im_start|>, the template's own first token) must keep it.
    bos = tokenizer.bos_token
    adds_bos = bos is not None and tokenizer("x").input_ids[:1] == [tokenizer.bos_token_id]

    def render(text: str) -> str:
        rendered = tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                 add_generation_prompt=True)
        return rendered[len(bos):] if adds_bos and rendered.startswith(bos) else rendered

    return render
