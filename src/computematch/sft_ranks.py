"""Data-parallel finetuning: N ranks of TRL's SFTTrainer on this machine, bound to loopback, failing fast.

    candidates, history = distributed_finetune(base, records, fields, work / "trainer", processes=2)

Each rank runs `finetune.finetune` unchanged: the Trainer's accelerate state sees RANK / WORLD_SIZE and trains
data-parallel (gloo on CPU, NCCL on GPUs; FSDP or DeepSpeed through the SFTConfig keys `fsdp`, `fsdp_config`,
`deepspeed` in params.yaml's `finetune` section). Only rank 0 saves checkpoints (the Trainer's `should_save`) and
writes the log history; checkpoint selection, metrics and MLflow stay in the stage's own process.

Why not `torchrun` / `accelerate launch`: their rendezvous store listens on every network interface whatever
`--master-addr` says, and `accelerate launch --cpu` silently runs one process. So this launcher binds the store to
127.0.0.1 itself (torch's `TCPStore(master_listen_fd=...)`), the ranks join it as torchrun's agents do
(`TORCHELASTIC_USE_AGENT_STORE`), and gloo is held to the loopback interface (`GLOO_SOCKET_IFNAME=lo`). Like
torchrun with no restarts, one failed rank stops them all; a rank that hangs fails the process group after
`runtime.distributed_timeout_s` (the Trainer ignores `ddp_timeout` on CPU, so each rank creates the group).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Sequence

from computematch.errors import UserError

GRACE_S = 5.0  # between SIGTERM and SIGKILL of the surviving ranks
HISTORY = "log_history.json"  # written by rank 0 into the trainer directory


class TrainingError(UserError):
    """A training rank failed: the stage stops, and writes nothing for DVC to cache."""


def _rank_environment(processes: int, port: int, threads: int) -> dict[str, str]:
    return {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(processes),
            "LOCAL_WORLD_SIZE": str(processes), "GROUP_RANK": "0", "ROLE_RANK": "0", "ROLE_NAME": "default",
            "ROLE_WORLD_SIZE": str(processes), "TORCHELASTIC_USE_AGENT_STORE": "True",
            "GLOO_SOCKET_IFNAME": os.environ.get("GLOO_SOCKET_IFNAME", "lo"), "OMP_NUM_THREADS": str(threads)}


def _stop(ranks: list[subprocess.Popen]) -> None:
    """SIGTERM (and SIGCONT, so that a stopped rank acts on it), then SIGKILL after GRACE_S, whole process groups."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for rank in ranks:
            if rank.poll() is None:
                try:
                    os.killpg(rank.pid, sig)
                except ProcessLookupError:
                    pass
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and any(rank.poll() is None for rank in ranks):
        time.sleep(0.05)
    for rank in ranks:
        if rank.poll() is None:
            os.killpg(rank.pid, signal.SIGKILL)
        rank.wait()


def launch(command: Sequence[str], processes: int, threads: int = 1) -> tuple[int, int]:
    """Run `command` as `processes` ranks on loopback; (0, 0) when all succeed, else (failed rank, its exit code)."""
    from torch.distributed import TCPStore

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))  # a free port, loopback only
    listener.listen(128)
    port = listener.getsockname()[1]
    store = TCPStore("127.0.0.1", port, is_master=True, master_listen_fd=listener.detach(), wait_for_workers=False,
                     timeout=timedelta(seconds=60), use_libuv=True)  # owns (and closes) the socket from here
    base = _rank_environment(processes, port, threads)
    ranks = [subprocess.Popen(list(command), env={**base, "RANK": str(rank), "LOCAL_RANK": str(rank)},
                              start_new_session=True) for rank in range(processes)]
    try:
        while True:
            codes = [rank.poll() for rank in ranks]
            failed = [(index, code) for index, code in enumerate(codes) if code not in (None, 0)]
            if failed:
                _stop(ranks)
                return failed[0]
            if all(code == 0 for code in codes):
                return 0, 0
            time.sleep(0.1)
    except BaseException:  # interrupted: take the ranks down with the stage
        _stop(ranks)
        raise
    finally:
        del store


def distributed_finetune(model_dir, records: list[dict], fields: dict, work_dir: Path, processes: int,
                         cuda: bool = False, timeout_s: int = 300, threads: int = 1, desc: str | None = None):
    """`finetune.finetune` on `processes` ranks; returns (checkpoint dirs by step, rank 0's log history)."""
    from computematch.sft import checkpoints
    from computematch.io import write_json, write_jsonl

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(work_dir / "records.jsonl", records)
    spec = {"model_dir": str(model_dir), "fields": fields, "work_dir": str(work_dir), "cuda": cuda,
            "timeout_s": timeout_s, "desc": desc}
    write_json(work_dir / "spec.json", spec)
    rank, code = launch([sys.executable, "-m", "computematch.sft_ranks", str(work_dir / "spec.json")], processes,
                        threads)
    if code:
        how = f"was killed by signal {code - 128 if code > 128 else -code}" if code > 128 or code < 0 else \
            f"exited with {code}"
        raise TrainingError(f"{desc or 'finetune'}: training rank {rank} of {processes} {how}; the other ranks "
                            "were stopped and nothing was written")
    history = json.loads((work_dir / HISTORY).read_text())
    return checkpoints(work_dir), history


def rank_main(spec_path: str) -> None:
    """One rank: join the process group (with the stage's timeout), train, and on rank 0 write the history."""
    import torch.distributed as dist

    from computematch.sft import finetune
    from computematch.io import read_jsonl, write_json

    spec = json.loads(Path(spec_path).read_text())
    rank = int(os.environ["RANK"])
    dist.init_process_group("nccl" if spec["cuda"] else "gloo", timeout=timedelta(seconds=spec["timeout_s"]))
    if spec["cuda"]:
        import torch

        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    work_dir = Path(spec["work_dir"])
    _, history = finetune(spec["model_dir"], read_jsonl(work_dir / "records.jsonl"), spec["fields"], work_dir,
                          cuda=spec["cuda"], desc=spec["desc"] if rank == 0 else None)
    if rank == 0:
        write_json(work_dir / HISTORY, history)
    dist.destroy_process_group()


if __name__ == "__main__":
    rank_main(sys.argv[1])
