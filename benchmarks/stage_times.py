"""Where the time of a `dvc repro` goes: the wall time of every stage, and totals by stage family.

    python benchmarks/stage_times.py                         # runs `dvc repro`, then prints the table
    python benchmarks/stage_times.py --json benchmarks/results/repro-cpu.json
    python benchmarks/stage_times.py -- dvc exp run -S 'study.worlds=[0]'

A stage's time runs from DVC's "Running stage" line to the next one (or to the end): the stage's process,
its imports, and DVC's hashing and lock writing after it. Run by hand on an otherwise idle machine: the CPU's
pressure (`/proc/pressure/cpu`) is recorded before the run, with the CPU model and the worlds that ran
(params.yaml's `study.worlds` after the run, so a `dvc exp run -S study.worlds=...` records its own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import defaultdict

STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def stage_times(events: list[tuple[float, str]], end: float) -> dict[str, float]:
    """Stage name -> seconds, from (time, line) events: each stage lasts until the next one starts."""
    starts = [(at, match.group(1)) for at, line in events if (match := STAGE_LINE.search(line))]
    return {name: round((starts[i + 1][0] if i + 1 < len(starts) else end) - at, 1)
            for i, (at, name) in enumerate(starts)}


def by_family(times: dict[str, float]) -> dict[str, dict]:
    """'finetune@se-wc' -> family 'finetune': count and total seconds per family."""
    families = defaultdict(lambda: {"stages": 0, "seconds": 0.0})
    for name, seconds in times.items():
        family = families[name.split("@")[0]]
        family["stages"] += 1
        family["seconds"] = round(family["seconds"] + seconds, 1)
    return dict(families)


def cpu_pressure() -> str | None:
    """The first line of /proc/pressure/cpu ("some avg10=0.00 ..."): whether the machine was quiet."""
    try:
        return open("/proc/pressure/cpu").readline().strip()
    except OSError:
        return None


def study_worlds() -> list[int] | None:
    import yaml

    try:
        return yaml.safe_load(open("params.yaml"))["study"]["worlds"]
    except (OSError, KeyError, TypeError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the times here")
    parser.add_argument("command", nargs="*", default=["dvc", "repro"])
    args = parser.parse_args()
    quiet_check, started, events = cpu_pressure(), time.perf_counter(), []
    process = subprocess.Popen(args.command or ["dvc", "repro"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in process.stdout:
        events.append((time.perf_counter() - started, line))
        sys.stdout.write(line)
    end = time.perf_counter() - started
    if process.wait() != 0:
        sys.exit(f"{' '.join(args.command)} failed with exit code {process.returncode}")
    times = stage_times(events, end)
    families = by_family(times)
    print(f"\n{'stage family':<18} {'stages':>6} {'seconds':>8}")
    for name, family in families.items():
        print(f"{name:<18} {family['stages']:>6} {family['seconds']:>8.1f}")
    print(f"{'total':<18} {len(times):>6} {end:>8.1f}   ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')})")
    if args.json:
        from computematch.provenance import cpu_name

        with open(args.json, "w") as handle:
            json.dump({"command": args.command, "total_seconds": round(end, 1), "worlds": study_worlds(),
                       "cpu": cpu_name(), "cpu_pressure_before": quiet_check, "families": families,
                       "stages": times, "cpu_count": os.cpu_count(), "machine": platform.machine()}, handle, indent=1)


if __name__ == "__main__":
    main()
