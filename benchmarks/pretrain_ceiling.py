"""What fraction of the machine's float32 matmul ceiling pretraining reaches.

    python benchmarks/pretrain_ceiling.py                 # every base model card under models/base/
    python benchmarks/pretrain_ceiling.py --json benchmarks/results/pretrain-ceiling.json

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    ceiling = {threads: round(matmul_gflops(threads), 1) for threads in (1, 2)}
    rows = pretraining_rates(Path.cwd())
    for row in rows:
        row["share_of_its_threads_ceiling"] = round(row["gflops_per_second"] / ceiling[min(row["threads"], 2)], 3)
        row["share_of_2_core_ceiling"] = round(row["gflops_per_second"] / ceiling[2], 3)
    from computematch.provenance import cpu_name

    print(f"matmul ceiling, float32: {ceiling[1]} GFLOP/s on 1 thread, {ceiling[2]} on 2 ({cpu_name()})")
    for row in rows:
        print(f"{row['model']:<18} {row['steps']:>5} steps {row['seconds']:>7.1f} s {row['threads']} thread(s) "
              f"{row['gflops_per_second']:>6.2f} GFLOP/s = {100 * row['share_of_its_threads_ceiling']:.0f}% of its "
              f"threads' ceiling, {100 * row['share_of_2_core_ceiling']:.0f}% of the 2-core one")
    if args.json:
        args.json.write_text(json.dumps({"cpu": cpu_name(), "matmul_gflops": ceiling, "models": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
