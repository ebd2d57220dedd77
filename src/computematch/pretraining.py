"""Pretraining a tiny Llama from scratch on the task's corpus: batches, schedule, the loop and its stop rule.

    from computematch.pretraining import pretrain_into
    card_facts = pretrain_into(directory, params.model("wc"), params.pretrain, task, splits)

The model's tokenizer and configuration come from models.py; the bootstrap stage writes the card.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable, Sequence

from computematch.errors import ConfigError

from computematch.config import ModelSpec, PretrainConfig
from computematch.models import count_parameters, llama_config, task_tokenizer


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


# A packed row's width in longest examples: 2 was faster than 1 (more rows) and 3 (attention is quadratic in the
# row) for both the student and SE on the default corpus (benchmarks/results/pretrain-packing.json).
PACK_ROW_FACTOR = 2


def _pack_collate(examples, pad_id: int):
    """One step's examples packed into few rows without padding between them (first-fit, longest first, rows twice
    the longest example): input ids, position ids that restart at 0 for each example, and labels. transformers reads
    restarting position ids (with no attention mask) as packed sequences and masks attention block-diagonally
    (masking_utils.find_packed_sequence_indices), so each example sees only itself, at its own positions: the same
    loss as the padded batch, computed on its real tokens (a padded batch of this corpus is ~63% real tokens)."""
    import torch

    width = PACK_ROW_FACTOR * max(len(ids) for ids, _ in examples)
    rows: list[list[int]] = []
    for index in sorted(range(len(examples)), key=lambda i: -len(examples[i][0])):
        fits = next((row for row in rows if sum(len(examples[i][0]) for i in row) + len(examples[index][0]) <= width),
                    None)
        if fits is None:
            rows.append([index])
        else:
            fits.append(index)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    for row, members in enumerate(rows):
        start = 0
        for index in members:
            ids, label = examples[index]
            input_ids[row, start: start + len(ids)] = torch.tensor(ids)
            labels[row, start: start + len(ids)] = torch.tensor(label)
            labels[row, start] = -100  # never a target across two examples' boundary (the loss shifts by one)
            positions[row, start: start + len(ids)] = torch.arange(len(ids))
            start += len(ids)
        positions[row, start:] = torch.arange(width - start)  # the tail is a sequence of its own, with no labels
    return input_ids, positions, labels


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
        if config.pack:
            input_ids, positions, labels = _pack_collate(batch, tokenizer.pad_token_id)
            loss = model(input_ids=input_ids, position_ids=positions, labels=labels, use_cache=False).loss
        else:
            input_ids, attention, labels = _collate(batch, tokenizer.pad_token_id)
            loss = model(input_ids=input_ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += sum(len(ids) for ids, _ in batch)
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
        "check_temperature": config.check_temperature,
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
                  device: str = "cpu", desc: str | None = None) -> dict:
    """Pretrain spec's Llama on the corpus split and save it with its tokenizer in `directory`; the card's facts.

    With `spec.stop_at_accuracy`, training stops at the first validation check that reaches it."""
    from computematch.greedy_checks import greedy_scorer

    tokenizer = task_tokenizer(task, splits)
    corpus = splits["corpus"]
    score = None if spec.stop_at_accuracy is None else greedy_scorer(
        task, splits["val"], tokenizer, device, temperature=config.check_temperature, seed=config.seed)
    model, stats = pretrain(spec.pretrain, tokenizer, [task.prompt(p) for p in corpus], [p.solution for p in corpus],
                            config, desc=desc or f"pretrain@{spec.role}", score=score,
                            stop_at=spec.stop_at_accuracy)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {"source": "pretrain", "architecture": spec.pretrain, "parameters": count_parameters(model),
            "pretrain": stats}
