"""The two sampling backends side by side: the same requests, the same model, the same machine, one run.

    .venv-vllm/bin/python benchmarks/backends.py                        # after `dvc repro bootstrap`; CPU
    .venv-vllm/bin/python benchmarks/backends.py --gpu                  # GPU: the project's vLLM path vs raw vllm

Each measurement runs in its own process (so that peak memory is its own): load the backend, draw every
request in batches, and report generated tokens/s, time to first batch, peak resident memory and the achieved
FLOP/s (2·P_total per processed token, prompt included) as a share of a matmul ceiling measured in the same run
(float32, the same thread count). Scenarios:
- `builtin`: the built-in base model (models/base/ROLE) on the train problems' prompts, S samples each;
- `fewshot`: a tiny untrained Llama with a 2,048-token context on 2-shot GSM8K prompts (the fixture), which share
  a long prefix: vLLM with automatic prefix caching on and off, and the transformers backend.
`--gpu` compares the project's vLLM backend with raw `vllm.LLM.generate` on the same requests (seeded
sampling, no logits processor): the project's overhead must stay within 5%. Without a GPU it says so and exits 0.
Results go to benchmarks/results/ as JSON. Run by hand on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def matmul_ceiling(threads: int, size: int = 512, seconds: float = 3.0) -> float:
    """FLOP/s of a float32 square matmul with `threads` threads: the ceiling this machine's CPU reaches."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        a @ b
        count += 1
    return 2 * size**3 * count / (time.perf_counter() - started)


def fewshot_model(directory: Path) -> tuple[Path, list[str]]:
    """A tiny untrained Llama (2,048-token context) and 2-shot GSM8K prompts over the fixture: timing only."""
    import torch
    from transformers import LlamaForCausalLM

    from computematch.config import TaskConfig
    from computematch.models import build_task_tokenizer, llama_config
    from computematch.tasks.gsm8k import GSM8KTask

    rows = [json.loads(line) for line in (REPO / "tests/fixtures/gsm8k/test.jsonl").read_text().splitlines()]
    task = GSM8KTask(TaskConfig(name="gsm8k", fewshot=2))
    problems = [task._problem(row, f"p{i}") for i, row in enumerate(rows)]
    task.exemplars = problems[:2]
    prompts = [task.prompt(p) for p in problems[2:]]
    if not (directory / "config.json").exists():
        torch.manual_seed(0)
        tokenizer = build_task_tokenizer("\n".join(prompts + [p.solution for p in problems]))
        fields = {"hidden_size": 128, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 512,
                  "max_position_embeddings": 2048}
        LlamaForCausalLM(llama_config(fields, tokenizer)).save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    return directory, prompts


def builtin_prompts(role: str) -> tuple[Path, list[str]]:
    from computematch import paths
    from computematch.config import load_params
    from computematch.splits import load_task, read_split

    os.chdir(REPO)
    params = load_params("params.yaml")
    task = load_task(params.task)
    return paths.base_model_dir(role, 0), [task.prompt(p) for p in read_split("train")]


def worker(spec: dict) -> dict:
    """One measurement, in this process: the project's backend (or raw vllm with --raw) on the given requests."""
    import torch

    from computematch.config import Decoding, RuntimeConfig
    from computematch.models import count_parameters_from_config
    from computematch.sampling import Request, get_backend

    torch.set_num_threads(spec["threads"])
    runtime = RuntimeConfig(threads=spec["threads"], prefix_caching=spec["prefix_caching"])
    decoding = Decoding(temperature=0.7, max_new_tokens=spec["max_new_tokens"], seed=0)
    requests = [Request(f"p{i}", j, prompt) for i, prompt in enumerate(spec["prompts"]) for j in range(spec["samples"])]
    started = time.perf_counter()
    if spec["backend"] == "raw-vllm":
        generate = raw_vllm(spec, runtime)
    else:
        backend = get_backend(spec["backend"], spec["model"], spec["device"], runtime=runtime)
        generate = lambda batch: [(c.prompt_tokens, c.completion_tokens, c.text)  # noqa: E731
                                  for c in backend.generate(batch, decoding)]
    load_seconds, first_batch, counts = time.perf_counter() - started, None, []
    started = time.perf_counter()
    for start in range(0, len(requests), spec["batch_size"]):
        counts += generate(requests[start: start + spec["batch_size"]])
        first_batch = first_batch or time.perf_counter() - started
    seconds = time.perf_counter() - started
    from transformers import AutoConfig

    parameters = count_parameters_from_config(AutoConfig.from_pretrained(spec["model"]))["total"]
    prompt_tokens, generated = sum(c[0] for c in counts), sum(c[1] for c in counts)
    texts = hashlib.sha256("\x00".join(c[2] for c in counts).encode()).hexdigest()[:16]
    return {"backend": spec["backend"], "prefix_caching": spec["prefix_caching"], "requests": len(requests),
            "load_seconds": round(load_seconds, 2), "first_batch_seconds": round(first_batch, 3),
            "seconds": round(seconds, 3), "prompt_tokens": prompt_tokens, "generated_tokens": generated,
            "generated_tokens_per_second": round(generated / seconds, 1),
            "achieved_flops_per_second": 2 * parameters * (prompt_tokens + generated) / seconds,
            "parameters_total": parameters, "completions_sha256": texts,
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def raw_vllm(spec: dict, runtime):
    """Raw vLLM on the same requests: its own seeded sampling, no logits processor (the --gpu baseline)."""
    from vllm import LLM, SamplingParams

    engine = LLM(model=spec["model"], gpu_memory_utilization=runtime.gpu_memory_utilization,
                 enable_prefix_caching=runtime.prefix_caching)

    def generate(batch):
        params = [SamplingParams(temperature=0.7, max_tokens=spec["max_new_tokens"], seed=index)
                  for index, _ in enumerate(batch)]
        outputs = engine.generate([r.prompt for r in batch], params, use_tqdm=False)
        return [(len(o.prompt_token_ids), len(o.outputs[0].token_ids), o.outputs[0].text) for o in outputs]

    return generate


def measure(spec: dict) -> dict:
    """Run `worker(spec)` in a fresh process of this interpreter (so that its peak memory is its own)."""
    result = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": str(spec["threads"])})
    if result.returncode:
        raise SystemExit(f"{spec['backend']} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scenario", choices=["builtin", "fewshot", "both"], default="both")
    parser.add_argument("--role", default="se", help="the built-in base model to sample from")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--max-new-tokens", type=int, default=80)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--gpu", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return
    import torch

    if args.gpu and not torch.cuda.is_available():
        print("skipped: --gpu needs a CUDA GPU and vllm; none here")
        return
    device = "cuda" if args.gpu else "cpu"
    base = {"threads": args.threads, "batch_size": args.batch_size, "device": device, "samples": args.samples,
            "max_new_tokens": args.max_new_tokens}
    from computematch.provenance import environment

    results = {"machine": {**environment(args.threads, "vllm", ("torch", "transformers")), "device": device},
               "matmul_ceiling_flops_per_second": None if args.gpu else matmul_ceiling(args.threads),
               "scenarios": {}}
    scenarios = ["builtin", "fewshot"] if args.scenario == "both" else [args.scenario]
    for scenario in scenarios:
        if scenario == "builtin":
            model, prompts = builtin_prompts(args.role)
        else:
            model, prompts = fewshot_model(RESULTS / "fewshot-model")
        spec = {**base, "model": str(model), "prompts": prompts}
        if args.gpu:
            runs = [{"backend": "vllm", "prefix_caching": True}, {"backend": "raw-vllm", "prefix_caching": True}]
        else:
            runs = [{"backend": "transformers", "prefix_caching": False}, {"backend": "vllm", "prefix_caching": True}]
            if scenario == "fewshot":
                runs.append({"backend": "vllm", "prefix_caching": False})
        rows = [measure({**spec, **run}) for run in runs]
        ceiling = results["matmul_ceiling_flops_per_second"]
        for row in rows:
            row["share_of_matmul_ceiling"] = round(row["achieved_flops_per_second"] / ceiling, 4) if ceiling else None
            print(json.dumps({"scenario": scenario, **row}), flush=True)
        same = len({row["completions_sha256"] for row in rows}) == 1
        results["scenarios"][scenario] = {"model": str(model), "prompts": len(prompts), "runs": rows,
                                          "identical_completions": same}
        print(f"{scenario}: {'identical' if same else 'DIFFERENT'} completions across the runs")
        if args.gpu:
            overhead = rows[0]["seconds"] / rows[1]["seconds"] - 1
            results["scenarios"][scenario]["project_overhead_vs_raw_vllm"] = round(overhead, 4)
            print(f"{scenario}: the project's vLLM path takes {100 * overhead:+.1f}% the time of raw vllm "
                  f"({'within' if overhead <= 0.05 else 'OVER'} the 5% target)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"backends-{device}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
