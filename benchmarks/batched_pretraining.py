"""Does pretraining several worlds' models as one batched computation make a step cheaper? (issue 28's lever)

    python benchmarks/batched_pretraining.py --json benchmarks/results/batched-pretraining.json
    python benchmarks/batched_pretraining.py --worlds 1 2 4 8 --steps 12 --threads 1 2

Reads params.yaml and data/prepare/ (run `dvc repro prepare` first), like pretrain_ceiling.py. For each
pretrained role and each K in --worlds, K models of that role (worlds 0..K-1: init seed and batch order
pretrain.seed + world, as the bootstrap stage draws them) train as ONE computation: their parameters stacked
(torch.func.stack_module_state), the forward and backward vmapped over the worlds, so every linear layer is one
batched matmul over K models, and AdamW updates the stacked tensors (elementwise: per world). A batched step
needs one shape for every world, and that shape must not depend on which worlds train beside it (a world's bits
must not), so each world's batch is padded to the corpus' longest example with an explicit causal and padding
mask (vmap cannot run transformers' data-dependent mask construction); packing (pretrain.pack) has no fixed
shape and is not batched. Gradients are clipped per world (norm 1.0), as the bootstrap stage does.

Reported per role, K and thread count: the median seconds of a batched step and per model (a step divided by K),
and the product's own step for comparison (one model, packed, as `pretrain.pack: true` trains it, on the same
thread count). With --check-bits, world 0 trained in a batch of K and alone (K=1) after the timed steps: whether
its parameters are equal bit for bit, and their largest difference. Also the share of a product step (packed,
one thread) spent in matrix multiplication (torch.profiler), which bounds what bigger matmuls could buy.
Run by hand on an otherwise idle machine (`cat /proc/pressure/cpu`).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from pretrain_ceiling import corpus_examples, matmul_gflops, product_step  # this folder is sys.path[0] for a script


def _fixed_shape_batch(batch, pad_id: int, width: int):
    """A padded batch of one fixed width, with its [rows, 1, width, width] boolean attention mask (causal, keys
    restricted to real tokens; a padded query sees itself so that no row of the softmax is empty)."""
    import torch
    import torch.nn.functional as F

    from computematch.pretraining import _collate

    input_ids, attention, labels = _collate(batch, pad_id)
    extra = width - input_ids.shape[1]
    input_ids, attention = F.pad(input_ids, (0, extra), value=pad_id), F.pad(attention, (0, extra))
    labels = F.pad(labels, (0, extra), value=-100)
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    mask = (causal[None] & attention[:, None, :].bool()) | torch.eye(width, dtype=torch.bool)
    return input_ids, mask[:, None], labels


def batched_run(params, tokenizer, examples, role: str, worlds: int, steps: int, threads: int):
    """Seconds of each batched step of `worlds` models of `role`, and the stacked parameters after `steps`."""
    import copy

    import torch
    from torch.func import functional_call, stack_module_state, vmap

    torch.set_num_threads(threads)
    config = params.pretrain
    models, orders = zip(*(_world_start(params, tokenizer, examples, role, world) for world in range(worlds)))
    template = copy.deepcopy(models[0])
    stacked, buffers = stack_module_state(models)
    stacked = {name: tensor.detach().requires_grad_() for name, tensor in stacked.items()}
    optimizer = torch.optim.AdamW(stacked.values(), lr=config.learning_rate, weight_decay=config.weight_decay)
    width = max(len(ids) for ids, _ in examples)

    def world_loss(weights, world_buffers, input_ids, mask, labels):
        return functional_call(template, (weights, world_buffers), (),
                               {"input_ids": input_ids, "attention_mask": mask, "labels": labels,
                                "use_cache": False}).loss

    losses_of = vmap(world_loss)
    seconds = []
    for step in range(steps):
        batches = [_fixed_shape_batch([examples[i] for i in orders[world][step]], tokenizer.pad_token_id, width)
                   for world in range(worlds)]
        input_ids, mask, labels = (torch.stack(parts) for parts in zip(*batches))
        started = time.perf_counter()
        losses_of(stacked, buffers, input_ids, mask, labels).sum().backward()
        with torch.no_grad():  # clip_grad_norm_(1.0) per world: each world's norm over its own slices
            squares = sum(p.grad.pow(2).flatten(1).sum(1) for p in stacked.values())
            scale = (1.0 / (squares.sqrt() + 1e-6)).clamp(max=1.0)
            for p in stacked.values():
                p.grad.mul_(scale.view(-1, *[1] * (p.dim() - 1)))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - started)
    return seconds, {name: tensor.detach() for name, tensor in stacked.items()}


def _world_start(params, tokenizer, examples, role: str, world: int):
    """World `world`'s fresh model of `role` and its batch order, drawn as the bootstrap stage draws them."""
    import torch
    from transformers import LlamaForCausalLM

    from computematch.models import llama_config
    from computematch.pretraining import epoch_batches

    seed = params.pretrain.seed + world
    torch.manual_seed(seed)
    model = LlamaForCausalLM(llama_config(params.models[role].pretrain, tokenizer)).train()
    order = epoch_batches([len(ids) for ids, _ in examples], params.pretrain.batch_size,
                          torch.Generator().manual_seed(seed), False)
    return model, order


def _product_model(params, tokenizer, examples, role: str, threads: int):
    """World 0's model of `role` with its AdamW and batch order, on `threads` threads, for the product's step."""
    import torch

    torch.set_num_threads(threads)
    model, order = _world_start(params, tokenizer, examples, role, 0)
    return model, torch.optim.AdamW(model.parameters(), lr=params.pretrain.learning_rate), order


def product_step_seconds(params, tokenizer, examples, role: str, steps: int, threads: int) -> list[float]:
    """The product's own step (pretraining.pretrain's loop body, packed), one model, on `threads` threads."""
    model, optimizer, order = _product_model(params, tokenizer, examples, role, threads)
    seconds = []
    for step in range(steps):
        started = time.perf_counter()
        product_step(model, optimizer, [examples[i] for i in order[step]], tokenizer.pad_token_id, packed=True)
        seconds.append(time.perf_counter() - started)
    return seconds


def matmul_share(params, tokenizer, examples, role: str, steps: int = 10) -> dict:
    """Share of a product step's time (packed, one thread) in aten::mm / addmm / bmm, and their GFLOP/s."""
    from torch.profiler import ProfilerActivity, profile

    model, optimizer, order = _product_model(params, tokenizer, examples, role, threads=1)

    def step(index):
        product_step(model, optimizer, [examples[i] for i in order[index]], tokenizer.pad_token_id, packed=True)

    for index in range(3):
        step(index)
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        for index in range(3, 3 + steps):
            step(index)
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    matmuls = [event for event in events if event.key in ("aten::mm", "aten::addmm", "aten::bmm")]
    matmul_time = sum(event.self_cpu_time_total for event in matmuls)
    matmul_flops = sum(event.flops or 0 for event in matmuls)
    return {"role": role, "matmul_share_of_step": round(matmul_time / total, 3),
            "matmul_gflops_per_second": round(matmul_flops / (matmul_time / 1e6) / 1e9, 1)}


def _median(seconds: list[float], warmup: int = 2) -> float:
    return statistics.median(seconds[warmup:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--roles", nargs="+", default=None, help="default: every pretrained role")
    parser.add_argument("--check-bits", type=int, default=4, help="K whose world 0 is compared with K=1 (0: skip)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from computematch.provenance import environment

    params, tokenizer, examples = corpus_examples()
    roles = args.roles or [role for role, spec in params.models.items() if spec.pretrain is not None]
    result = {"cpu_pressure_before": Path("/proc/pressure/cpu").read_text().splitlines()[0],
              "machine": platform.machine(), "environment": environment(),
              "ceiling_gflops_per_second": {str(t): round(matmul_gflops(t), 1) for t in sorted({1, *args.threads})},
              "steps": args.steps, "rows": [], "bits": [], "matmul_share": []}
    for role in roles:
        for threads in args.threads:
            product = _median(product_step_seconds(params, tokenizer, examples, role, args.steps, threads))
            row = {"role": role, "threads": threads, "product_packed_step": round(product, 4)}
            for worlds in args.worlds:
                seconds, _ = batched_run(params, tokenizer, examples, role, worlds, args.steps, threads)
                step = _median(seconds)
                row[f"batched_{worlds}_step"] = round(step, 4)
                row[f"batched_{worlds}_per_model"] = round(step / worlds, 4)
            print(json.dumps(row), flush=True)
            result["rows"].append(row)
        if args.check_bits > 1:
            _, alone = batched_run(params, tokenizer, examples, role, 1, args.steps, 1)
            _, beside = batched_run(params, tokenizer, examples, role, args.check_bits, args.steps, 1)
            largest = max((alone[name][0] - beside[name][0]).abs().max().item() for name in alone)
            equal = all(bool((alone[name][0] == beside[name][0]).all()) for name in alone)
            check = {"role": role, "batch_of": args.check_bits, "steps": args.steps, "world_0_bit_equal": equal,
                     "largest_difference": largest}
            print(json.dumps(check), flush=True)
            result["bits"].append(check)
        share = matmul_share(params, tokenizer, examples, role)
        print(json.dumps(share), flush=True)
        result["matmul_share"].append(share)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
