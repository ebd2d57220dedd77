"""Supervised finetuning with TRL's SFTTrainer on prompt/completion data; checkpoint selection on validation.

    from computematch.sft import finetune
    checkpoints, history = finetune("models/base/se", records, {"max_steps": 150}, "work/se-wc")

Keys of params.yaml's `finetune` section are TRL `SFTConfig` field names and pass through unchanged; its `peft`
subsection, `peft.LoraConfig` field names, trains LoRA adapters instead of every weight (TRL's `peft_config`).
Prompt/completion records train with the loss on the completion only (TRL's default for that format).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Callable, Sequence

from computematch.errors import ConfigError

CHECKPOINT = re.compile(r"checkpoint-(\d+)$")


def cpu_defaults(cuda: bool) -> dict:
    """SFTConfig values that differ from TRL's defaults on a CPU (TRL defaults to bf16 and gradient checkpointing).

    `ddp_find_unused_parameters: False`: full finetuning of a causal LM gives every parameter a gradient at every
    step, so data-parallel ranks need not search the graph for unused ones (the Trainer's default, True for a
    model without gradient checkpointing, costs that extra traversal and warns about it). Set it true in
    `finetune:` for a model with frozen or unused parameters."""
    base = {"report_to": "none", "save_strategy": "steps", "save_only_model": True, "disable_tqdm": True,
            "ddp_find_unused_parameters": False}
    if cuda:
        return base
    return {**base, "use_cpu": True, "bf16": False, "gradient_checkpointing": False, "dataloader_pin_memory": False}


def sft_config(fields: dict, output_dir: Path, cuda: bool):
    """SFTConfig from params fields (plus CPU-safe defaults the params may override)."""
    from trl import SFTConfig

    from computematch.library_fields import check_sft_fields

    check_sft_fields(fields)
    try:
        return SFTConfig(output_dir=str(output_dir), **{**cpu_defaults(cuda), **fields})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"finetune: {str(error).splitlines()[0]}") from None


def progress_callback(desc: str):
    """A Trainer callback that shows steps, the latest logged loss and an ETA (progress.Progress)."""
    from transformers import TrainerCallback

    from computematch.progress import Progress

    class ProgressCallback(TrainerCallback):
        progress = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.progress = Progress(state.max_steps, desc, unit="step")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.progress is not None and logs and "loss" in logs:
                self.progress.figures["loss"] = float(logs["loss"])

        def on_step_end(self, args, state, control, **kwargs):
            self.progress.update(1)

        def on_train_end(self, args, state, control, **kwargs):
            self.progress.close()

    return ProgressCallback()


def finetune(model_dir, records: Sequence[dict], fields: dict, work_dir: Path, cuda: bool = False,
             desc: str | None = None):
    """Train a copy of the model at `model_dir` on `records`; returns (checkpoint dirs by step, log history).

    With `desc`, progress (step, loss, ETA) is shown under that name."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    from computematch.library_fields import PEFT_KEY, sft_fields
    from computematch.models import resolve_weights

    if not records:
        raise ConfigError("finetune: the training data is empty (no sample had a correct answer)")
    config, peft = sft_config(sft_fields(fields), work_dir, cuda), fields.get(PEFT_KEY)
    weights, gguf_file = resolve_weights(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(weights, gguf_file=gguf_file)
    model = AutoModelForCausalLM.from_pretrained(weights, gguf_file=gguf_file)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "completion": r["completion"]} for r in records])
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, processing_class=tokenizer,
                         peft_config=lora_config(peft) if peft is not None else None,
                         callbacks=[progress_callback(desc)] if desc else None)
    if desc:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # its raw log dicts would repeat what the progress line shows
    trainer.train()
    found = checkpoints(work_dir)
    if peft is not None:
        base = AutoModelForCausalLM.from_pretrained(weights, gguf_file=gguf_file)  # read once for every checkpoint
        for checkpoint in found:
            merge_adapter(base, checkpoint)
    return found, trainer.state.log_history


ADAPTER_DIR = "adapter"  # a LoRA checkpoint's adapters, beside the merged weights that later stages load
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json", "README.md")


def lora_config(fields: dict):
    """peft.LoraConfig from finetune.peft (task_type CAUSAL_LM unless given)."""
    from peft import LoraConfig

    try:
        return LoraConfig(**{"task_type": "CAUSAL_LM", **fields})
    except (TypeError, ValueError) as error:
        raise ConfigError(f"finetune.peft: {str(error).splitlines()[0]}") from None


def merge_adapter(base, checkpoint: Path) -> None:
    """A LoRA checkpoint made loadable like any model: its adapters moved into `adapter/` (kept: what LoRA trained)
    and the base weights with the adapters merged in written beside them (checkpoint selection, sampling and
    evaluation load full weights; vLLM too). Adapter files at the top would make transformers load the adapter
    onto its base again."""
    import copy

    from peft import PeftModel

    adapter = checkpoint / ADAPTER_DIR
    adapter.mkdir(exist_ok=True)
    for name in ADAPTER_FILES:
        if (checkpoint / name).exists():
            (checkpoint / name).replace(adapter / name)
    # merging writes into the weights it is given: a copy, so `base` stays the base for the next checkpoint
    PeftModel.from_pretrained(copy.deepcopy(base), adapter).merge_and_unload().save_pretrained(checkpoint)


def adapter_parameters(model_dir: Path) -> int | None:
    """The parameters LoRA trained (the adapter tensors of a merged LoRA model), None for a fully finetuned one."""
    path = Path(model_dir) / ADAPTER_DIR / "adapter_model.safetensors"
    if not path.exists():
        return None
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as tensors:
        return sum(math.prod(tensors.get_slice(name).get_shape()) for name in tensors.keys())


def checkpoints(work_dir: Path) -> list[Path]:
    """The Trainer's checkpoint directories, by step."""
    found = [(int(m.group(1)), path) for path in Path(work_dir).iterdir()
             if path.is_dir() and (m := CHECKPOINT.search(path.name))]
    return [path for _, path in sorted(found)]


def select_checkpoint(candidates: Sequence[Path], score: Callable[[Path], float]) -> tuple[Path, dict[str, float]]:
    """The candidate with the best validation score (the earliest among equals), and every score."""
    if not candidates:
        raise ConfigError("finetune: no checkpoint was saved (is save_steps larger than max_steps?)")
    scores = {path.name: score(path) for path in candidates}
    best = max(candidates, key=lambda path: (scores[path.name], -candidates.index(path)))
    return best, scores
