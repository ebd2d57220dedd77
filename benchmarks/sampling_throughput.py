"""Sampling throughput of the transformers backend on the built-in base models: generated tokens per second.

    python benchmarks/sampling_throughput.py --models wc se --batch-sizes 128 512 1024 --threads 1 2

Run by hand after `dvc repro bootstrap`, on an otherwise idle machine: it draws 1,024 samples of the train
problems per setting (not stored anywhere) and prints one JSON line per (model, threads, batch size).
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--models", nargs="+", default=["wc", "se"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512, 1024])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--samples", type=int, default=1024)
    args = parser.parse_args()

    import torch

    from computematch import paths
    from computematch.config import load_params
    from computematch.sampling import Request, get_backend
    from computematch.splits import load_task, read_split

    params = load_params(args.params)
    task, problems = load_task(params.task), read_split("train")
    requests = [Request(p.id, j, task.prompt(p)) for j in range(args.samples // len(problems) + 1) for p in problems]
    requests = requests[: args.samples]
    for role in args.models:
        backend = get_backend(params.sampling.backend, paths.base_model_dir(role, 0), "cpu", stop=task.stop)
        for threads in args.threads:
            torch.set_num_threads(threads)
            for batch_size in args.batch_sizes:
                started, tokens = time.perf_counter(), 0
                for start in range(0, len(requests), batch_size):
                    batch = requests[start: start + batch_size]
                    tokens += sum(c.completion_tokens for c in backend.generate(batch, params.sampling.decoding))
                seconds = time.perf_counter() - started
                print(json.dumps({"model": role, "threads": threads, "batch_size": batch_size, "samples": len(requests),
                                  "seconds": round(seconds, 2), "generated_tokens_per_second": round(tokens / seconds)}),
                      flush=True)


if __name__ == "__main__":
    main()
