"""Base models: resolve a hub id or local directory, or pretrain a tiny Llama from scratch; count parameters.

    from computematch.models import load_card
    load_card("models/base/wc")["parameters"]  # {'total': ..., 'non_embedding': ..., 'embedding': ...}

Every base model ends up as a directory that `AutoModelForCausalLM.from_pretrained` and
`AutoTokenizer.from_pretrained` load, with a `card.json` beside the weights.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from pathlib import Path
from typing import Callable, Sequence

from computematch.config import ConfigError, ModelSpec, PretrainConfig
from computematch.errors import MissingInputError

CARD_FILE = "card.json"
SPECIAL_TOKENS = {"pad_token": "<pad>", "bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>"}
# Defaults for a from-scratch Llama that the params may override (tied embeddings as in the prototype).
TINY_LLAMA_DEFAULTS = {"max_position_embeddings": 256, "tie_word_embeddings": True}
PARAM_COUNT_NOTE = (
    "FLOPs per generated token = 2 * P (Kaplan et al. 2020, Sec. 2.1). Kaplan's P excludes vocabulary and "
    "position embeddings: an embedding lookup is not a matrix multiply. budget.param_count picks which "
    "count is P (default non_embedding)."
)


# ---------------------------------------------------------------- tokenizer


# One token per run of up to three digits, one per other character: Llama 3's tokenizer also splits numbers
# into groups of at most three digits. A number is then one token, so `17+8=25` is a lookup of three tokens
# rather than digit-by-digit carrying, which tiny models do not learn in minutes (docs/calibration.md).
TOKEN_PATTERN = r"\d{1,3}|[\s\S]"


def build_task_tokenizer(text: str):
    """A tokenizer over `text`'s pieces (numbers of up to 3 digits, single characters), plus pad/bos/eos/unk."""
    import re

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = list(SPECIAL_TOKENS.values())
    pieces = sorted(set(re.findall(TOKEN_PATTERN, text)))
    vocab = {token: index for index, token in enumerate(specials + pieces)}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token=SPECIAL_TOKENS["unk_token"]))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **SPECIAL_TOKENS)


def task_tokenizer(task, splits: dict) -> "PreTrainedTokenizerFast":  # noqa: F821
    """The built-in tokenizer over every piece the splits' prompts and gold solutions use."""
    texts = []
    for split in ("corpus", "train", "val", "test"):
        problems = splits.get(split, [])
        texts += [task.prompt(p) for p in problems] + [p.solution for p in problems]
    return build_task_tokenizer("\n".join(texts))


# ---------------------------------------------------------------- parameter counts


def count_parameters(model) -> dict[str, int]:
    """Total and non-embedding parameter counts; tied weights are counted once."""
    seen, total = set(), 0
    for parameter in model.parameters():
        if id(parameter) not in seen:
            seen.add(id(parameter))
            total += parameter.numel()
    embedding, counted = 0, set()
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None and id(module.weight) not in counted:  # a tied LM head is the same tensor
            counted.add(id(module.weight))
            embedding += module.weight.numel()
    return {"total": total, "non_embedding": total - embedding, "embedding": embedding}


def count_parameters_from_config(config) -> dict[str, int]:
    """Parameter counts of an architecture without allocating its weights (meta device)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return count_parameters(model)


# ---------------------------------------------------------------- pretraining from scratch


def llama_config(fields: dict, tokenizer, key: str = "pretrain"):
    """LlamaConfig from params fields; unknown field names are an error naming the field."""
    from transformers import LlamaConfig

    from computematch.library_fields import check_llama_fields

    check_llama_fields(fields, key)
    return LlamaConfig(
        **{**TINY_LLAMA_DEFAULTS, **fields},
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def encode_examples(tokenizer, prompts: Sequence[str], completions: Sequence[str]):
    """Token ids and labels for completion-only loss: prompt tokens are labelled -100, EOS closes each one."""
    prompt_ids = tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(list(completions), add_special_tokens=False)["input_ids"]
    examples = []
    for prompt, completion in zip(prompt_ids, completion_ids):
        completion = completion + [tokenizer.eos_token_id]
        examples.append((prompt + completion, [-100] * len(prompt) + completion))
    return examples


def _collate(examples, pad_id: int):
    import torch

    width = max(len(ids) for ids, _ in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (ids, label) in enumerate(examples):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(label)] = torch.tensor(label)
        attention[row, : len(ids)] = 1
    return input_ids, attention, labels


# HF's LengthGroupedSampler sorts megabatches of 50 batches (transformers.trainer_pt_utils.get_length_grouped_indices)
MEGABATCH_BATCHES = 50


def epoch_batches(lengths: Sequence[int], batch_size: int, generator, group_by_length: bool) -> list[list[int]]:
    """One epoch's batches of example indices, every batch full (a short tail is dropped), drawn from `generator`.

    Plain: consecutive slices of a random permutation. Grouped by length (as HF's `group_by_length`): the
    permutation is cut into megabatches of MEGABATCH_BATCHES batches, each sorted by length and sliced, and the
    batches are then shuffled, so a batch holds examples of similar length (little padding: each step computes
    on fewer positions) while its place in the epoch stays random."""
    import torch

    order = torch.randperm(len(lengths), generator=generator).tolist()
    if group_by_length:
        span = batch_size * MEGABATCH_BATCHES
        order = [i for start in range(0, len(order), span)
                 for i in sorted(order[start: start + span], key=lengths.__getitem__)]
    batches = [order[start: start + batch_size] for start in range(0, len(order) - batch_size + 1, batch_size)]
    if not batches:  # fewer examples than a batch: one batch of them all
        return [order]
    if group_by_length:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate multiplier: linear warmup, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def pretrain(fields: dict, tokenizer, prompts: Sequence[str], completions: Sequence[str],
             config: PretrainConfig, log_every: int = 50, on_log: Callable[[int, float], None] | None = None,
             desc: str | None = None, score: Callable[[object], float] | None = None,
             stop_at: float | None = None):
    """Train a Llama from scratch on (prompt, completion) text; returns (model, stats).

    With `score` (model -> validation accuracy), the model is scored every `config.check_every` steps and the
    curve kept in stats; with `stop_at` too, training stops at the first check that reaches it. Scoring draws
    no random numbers, so it does not change the trajectory. With `desc`, progress (step, loss, ETA) is shown
    under that name (progress.Progress)."""
    import torch
    from transformers import LlamaForCausalLM

    from computematch.progress import Progress

    if not prompts:
        raise ConfigError("task.corpus_size: a model to pretrain needs a non-empty corpus")
    torch.manual_seed(config.seed)
    model = LlamaForCausalLM(llama_config(fields, tokenizer))
    model.train()
    examples = encode_examples(tokenizer, prompts, completions)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, config.warmup_steps, config.steps)
    )
    generator = torch.Generator().manual_seed(config.seed)
    lengths = [len(ids) for ids, _ in examples]
    batches, curve, tokens = [], [], 0
    started = time.perf_counter()
    progress = Progress(config.steps, desc, unit="step") if desc else None
    checks, stopped_at = [], None
    for step in range(config.steps):
        if not batches:  # a new epoch, reshuffled
            batches = epoch_batches(lengths, config.batch_size, generator, config.group_by_length)[::-1]
        batch = [examples[i] for i in batches.pop()]
        input_ids, attention, labels = _collate(batch, tokenizer.pad_token_id)
        loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(attention.sum())
        if progress is not None:
            progress.update(1, loss=loss.item())
        if step % log_every == 0 or step == config.steps - 1:
            curve.append((step, round(loss.item(), 5)))
            if on_log is not None:
                on_log(step, loss.item())
        if score is not None and (step + 1) % config.check_every == 0:
            model.eval()
            checks.append((step + 1, round(score(model), 4)))
            model.train()
            if stop_at is not None and checks[-1][1] >= stop_at:
                stopped_at = step + 1
                break
    if progress is not None:
        progress.close()
    model.eval()
    stats = {
        "steps": stopped_at or config.steps,
        "max_steps": config.steps,
        "stop_at_accuracy": stop_at,
        "val_checks": checks,
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "seed": config.seed,
        "final_loss": curve[-1][1],
        "loss_curve": curve,
        "tokens_seen": tokens,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return model, stats


def pretrain_into(directory: Path, spec: ModelSpec, config: PretrainConfig, task, splits: dict,
                  device: str = "cpu") -> dict:
    """Pretrain spec's Llama on the corpus split and save it with its tokenizer in `directory`; the card's facts.

    With `spec.stop_at_accuracy`, training stops at the first validation check that reaches it."""
    from computematch.evaluation import greedy_scorer

    tokenizer = task_tokenizer(task, splits)
    corpus = splits["corpus"]
    score = None if spec.stop_at_accuracy is None else greedy_scorer(task, splits["val"], tokenizer, device)
    model, stats = pretrain(spec.pretrain, tokenizer, [task.prompt(p) for p in corpus], [p.solution for p in corpus],
                            config, desc=f"pretrain@{spec.role}", score=score,
                            stop_at=spec.stop_at_accuracy)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {"source": "pretrain", "architecture": spec.pretrain, "parameters": count_parameters(model),
            "pretrain": stats}


def resolve_loaded(spec: ModelSpec) -> dict:
    """The card's facts for a `load` spec. The weights stay where they are (a hub snapshot or the given
    directory): the card points at them, so a 27B checkpoint is neither copied nor hashed into the DVC cache."""
    from transformers import AutoConfig

    source = resolve_source(spec).resolve()
    config = AutoConfig.from_pretrained(source, gguf_file=spec.gguf_file)
    return {"source": "load", "load": spec.load, "revision": spec.revision, "weights_dir": str(source),
            "gguf_file": spec.gguf_file, "architecture": config.architectures,
            "parameters": count_parameters_from_config(config)}


# ---------------------------------------------------------------- loading existing models


def resolve_source(spec: ModelSpec) -> Path:
    """A local directory holding the model: the given directory, or a hub snapshot (downloaded when online)."""
    local = Path(spec.load).expanduser()
    if local.exists():
        if not (local / "config.json").exists():
            raise ConfigError(f"models.{spec.role}.load: {local} has no config.json (not a transformers model directory)")
        return local
    if spec.load.startswith((".", "/", "~")) or spec.load.count("/") > 1:
        raise ConfigError(f"models.{spec.role}.load: directory {spec.load} does not exist")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(spec.load, revision=spec.revision))
    except Exception as error:  # offline, unknown repo, gated model...
        raise ConfigError(
            f"models.{spec.role}.load: {spec.load!r} is not a local directory and could not be fetched from the hub "
            f"({type(error).__name__}; offline machines need a local directory)"
        ) from None


FULL_HASH_LIMIT = 2 << 30  # bytes; above this, names and sizes stand in for contents (hashing 50 GB takes minutes)


def weights_digest(model_dir: Path) -> str:
    """sha256 over the weight files: identifies the exact model that drew a sample.

    Checkpoints over 2 GiB are fingerprinted by file names, sizes and config.json instead of contents.
    """
    digest = hashlib.sha256()
    files = sorted(p for p in Path(model_dir).iterdir() if p.suffix in {".safetensors", ".bin", ".gguf"})
    full = sum(p.stat().st_size for p in files) <= FULL_HASH_LIMIT
    for path in files:
        digest.update(f"{path.name}:{path.stat().st_size}".encode())
        if full:
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    if not full and (Path(model_dir) / "config.json").exists():
        digest.update((Path(model_dir) / "config.json").read_bytes())
    return digest.hexdigest()


def resolve_weights(model_dir: str | Path) -> tuple[Path, str | None]:
    """(directory holding the weights, GGUF file or None): a base model of a `load` spec points elsewhere."""
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILE
    if card_path.exists():
        card = json.loads(card_path.read_text())
        if card.get("weights_dir"):
            return Path(card["weights_dir"]), card.get("gguf_file")
    return model_dir, None


def load_model(model_dir: str | Path, device: str = "cpu", dtype: str = "auto"):
    """(model, tokenizer) ready for generation: eval mode, left padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    weights, gguf_file = resolve_weights(model_dir)
    if not (weights / "config.json").exists() and gguf_file is None:
        raise MissingInputError(f"{model_dir}: not a model directory (run `dvc repro bootstrap` first)")
    tokenizer = AutoTokenizer.from_pretrained(weights, gguf_file=gguf_file)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
    model = AutoModelForCausalLM.from_pretrained(weights, dtype=torch_dtype, gguf_file=gguf_file).to(device)
    model.eval()
    return model, tokenizer


def write_card(model_dir: Path, card: dict) -> None:
    (Path(model_dir) / CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")


def load_card(model_dir: str | Path) -> dict:
    path = Path(model_dir) / CARD_FILE
    if not path.exists():
        raise MissingInputError(f"{path}: missing model card (run `dvc repro bootstrap` first)")
    return json.loads(path.read_text())
