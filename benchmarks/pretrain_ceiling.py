"""What fraction of the machine's float32 matmul ceiling pretraining reaches.

    python benchmarks/pretrain_ceiling.py                 # every base model card under models/base/
    python benchmarks/pretrain_ceiling.py --json benchmarks/results/pretrain-ceiling.json
    python benchmarks/pretrain_ceiling.py --steps 40      # also: one step of each role, padded vs packed, 1 thread

The ceiling: the best of a few 2048 x 2048 float32 matmuls at 1 and at 2 threads (GFLOP/s = 2·n³ / seconds).
Pretraining's rate: 6·P per trained token (Kaplan et al., 2020: forward 2·P, backward 4·P) over the real tokens a
model saw (the card's tokens_seen: padding excluded, so it is the useful rate) divided by its pretraining
seconds, which include its validation checks. P is the total parameter count (the LM head is a matmul here).
A world's three models pretrain side by side on 2 cores, so each model's rate is measured while sharing them.
Run by hand on an otherwise idle machine (`cat /proc/pressure/cpu`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def matmul_gflops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm up
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * size ** 3 / best / 1e9


def _timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def pretraining_rates(root: Path) -> list[dict]:
    rows = []
    for card_path in sorted(root.glob("models/base/*/world-*/card.json")):
        card = json.loads(card_path.read_text())
        stats = card.get("pretrain")
        if not stats:
            continue
        flops = 6 * card["parameters"]["total"] * stats["tokens_seen"]
        rows.append({"model": f"{card['role']}/{card_path.parent.name}", "steps": stats["steps"],
                     "threads": card["environment"]["threads"], "seconds": stats["seconds"],
                     "gflops_per_second": round(flops / stats["seconds"] / 1e9, 2)})
    return rows


def corpus_examples():
    """params.yaml, the task's tokenizer and its pretraining corpus encoded as the bootstrap stage encodes it."""
    from computematch.config import load_params
    from computematch.models import task_tokenizer
    from computematch.pretraining import encode_examples
    from computematch.splits import load_task, read_split

    params = load_params("params.yaml")
    task, splits = load_task(params.task), {split: read_split(split) for split in ("corpus", "train", "val", "test")}
    tokenizer = task_tokenizer(task, splits)
    examples = encode_examples(tokenizer, [task.prompt(p) for p in splits["corpus"]],
                               [p.solution for p in splits["corpus"]])
    return params, tokenizer, examples


def product_step(model, optimizer, chosen: list, pad_id: int, packed: bool) -> None:
    """One pretraining step as pretraining.pretrain takes it (its schedule aside), on the examples `chosen`."""
    import torch

    from computematch.pretraining import _collate, _pack_collate

    if packed:
        ids, positions, labels = _pack_collate(chosen, pad_id)
        inputs = {"input_ids": ids, "position_ids": positions, "labels": labels, "use_cache": False}
    else:
        ids, attention, labels = _collate(chosen, pad_id)
        inputs = {"input_ids": ids, "attention_mask": attention, "labels": labels}
    model(**inputs).loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def step_rates(steps: int, warmup: int = 5) -> list[dict]:
    """Seconds per pretraining step of each pretrained role on params.yaml's corpus (data/prepare/), on one thread,
    with padded batches and with packed ones (pretrain.pack), back to back on the same batches: the packing lever
    measured alone. GFLOP/s at 6·P per real token, as for the cards."""
    import torch
    from transformers import LlamaForCausalLM

    from computematch.models import count_parameters, llama_config
    from computematch.pretraining import epoch_batches

    torch.set_num_threads(1)
    params, tokenizer, examples = corpus_examples()
    batches = epoch_batches([len(ids) for ids, _ in examples], params.pretrain.batch_size,
                            torch.Generator().manual_seed(0), False)[: warmup + steps]
    rows = []
    for role, spec in params.models.items():
        if spec.pretrain is None:
            continue
        for packed in (False, True):
            torch.manual_seed(0)
            model = LlamaForCausalLM(llama_config(spec.pretrain, tokenizer))
            optimizer = torch.optim.AdamW(model.parameters(), lr=params.pretrain.learning_rate)
            for index, batch in enumerate(batches):
                if index == warmup:
                    started, tokens = time.perf_counter(), 0
                chosen = [examples[i] for i in batch]
                product_step(model, optimizer, chosen, tokenizer.pad_token_id, packed)
                if index >= warmup:
                    tokens += sum(len(ids) for ids, _ in chosen)
            seconds = time.perf_counter() - started
            flops = 6 * count_parameters(model)["total"] * tokens
            rows.append({"role": role, "batches": "packed" if packed else "padded", "steps": steps,
                         "seconds_per_step": round(seconds / steps, 4),
                         "gflops_per_second": round(flops / seconds / 1e9, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--steps", type=int, default=0, help="also time this many steps per role, padded and packed")
    args = parser.parse_args()
    ceiling = {threads: round(matmul_gflops(threads), 1) for threads in (1, 2)}
    rows = pretraining_rates(Path.cwd())
    rates = step_rates(args.steps) if args.steps else []
    for rate in rates:
        rate["share_of_1_thread_ceiling"] = round(rate["gflops_per_second"] / ceiling[1], 3)
    for row in rows:
        row["share_of_its_threads_ceiling"] = round(row["gflops_per_second"] / ceiling[min(row["threads"], 2)], 3)
        row["share_of_2_core_ceiling"] = round(row["gflops_per_second"] / ceiling[2], 3)
    from computematch.provenance import cpu_name

    print(f"matmul ceiling, float32: {ceiling[1]} GFLOP/s on 1 thread, {ceiling[2]} on 2 ({cpu_name()})")
    for row in rows:
        print(f"{row['model']:<18} {row['steps']:>5} steps {row['seconds']:>7.1f} s {row['threads']} thread(s) "
              f"{row['gflops_per_second']:>6.2f} GFLOP/s = {100 * row['share_of_its_threads_ceiling']:.0f}% of its "
              f"threads' ceiling, {100 * row['share_of_2_core_ceiling']:.0f}% of the 2-core one")
    for rate in rates:
        print(f"{rate['role']:<8} {rate['batches']:<7} {rate['seconds_per_step']:.4f} s/step "
              f"{rate['gflops_per_second']:>6.2f} GFLOP/s = {100 * rate['share_of_1_thread_ceiling']:.0f}% of one thread's ceiling")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "matmul_gflops": ceiling, "models": rows,
                                         "step_rates": rates}, indent=2) + "\n")


if __name__ == "__main__":
    main()
