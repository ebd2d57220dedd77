"""A sampling backend spread over Ray workers, each holding one replica of the model (`ray.workers` > 1).

    pool = RayPool("transformers", "models/base/wc", workers=2, temp_dir=".ray")
    pool.generate(requests, decoding)      # split across the workers, returned in request order
    pool.close()

Every worker wraps the configured backend (transformers on CPUs, vLLM on GPU nodes), and every sample is a pure
function of its key (streams.py), so which worker drew it changes nothing: the samples are byte-identical to a
single-process run, the resume store (which the driver appends per batch in the stage's process) and its
fingerprint are the same, and nested budgets hold. A worker that dies fails the batch in flight with a one-line
error; every earlier batch is in the store, so a rerun resumes.

Ray is kept to this machine's loopback and to the repository: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` makes a
local cluster's node address 127.0.0.1, so its gRPC servers bind loopback only (otherwise Ray swaps 127.0.0.1
for the machine's LAN address and listens on every interface); no dashboard, no usage stats, an auth token kept
in the environment (not ~/.ray), session files under `ray.temp_dir` (default `.ray/` in the repository).
These settings are read when `ray` is imported, so this module sets them before importing it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from computematch.errors import ConfigError

from computematch.config import Decoding, RuntimeConfig
from computematch.errors import UserError
from computematch.sampling.base import Completion, Request

LOOPBACK_ENVIRONMENT = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # node IP 127.0.0.1: every Ray server binds loopback only
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
}
MAX_TEMP_DIR_CHARS = 48  # Ray's socket paths (<temp>/session_<date>_<pid>/sockets/...) must fit in 107 bytes
OBJECT_STORE_BYTES = 200 * 1024**2  # unset, Ray reserves 30% of RAM in /dev/shm
WORKER_ENVIRONMENT = ("PYTHONPATH", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "OMP_WAIT_POLICY",
                      "MLFLOW_DISABLE_TELEMETRY")


class WorkerLostError(UserError):
    """A Ray worker died mid-batch; the finished batches are in the resume store."""


def _ray_environment(joining: bool) -> None:
    for key, value in LOOPBACK_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    if not joining:  # a private cluster's token lives in the environment its daemons inherit, not in ~/.ray
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(16))


def _import_ray(joining: bool):
    _ray_environment(joining)
    try:
        import ray
    except ImportError:
        raise ConfigError("ray.workers: Ray is not installed; pip install 'computematch[ray]'") from None
    return ray


def session_dir(temp_dir: str | None) -> str:
    """Where Ray writes its session files: ray.temp_dir, else .ray/ in the repository (gitignored)."""
    path = Path(temp_dir or ".ray").resolve()
    if len(str(path)) > MAX_TEMP_DIR_CHARS:
        raise ConfigError(f"ray.temp_dir: {path} is too long for Ray's socket paths (at most {MAX_TEMP_DIR_CHARS} "
                          "characters); set ray.temp_dir to a shorter folder")
    return str(path)


class RayPool:
    def __init__(self, backend: str, model_dir, device: str = "cpu", stop: tuple[str, ...] = (),
                 runtime: RuntimeConfig | None = None, workers: int = 2, address: str | None = None,
                 temp_dir: str | None = None):
        ray = _import_ray(joining=address is not None)
        self.name = backend  # the completions are the wrapped backend's: the same resume-store fingerprint
        self.started = not ray.is_initialized()
        if self.started:
            env = {key: os.environ[key] for key in WORKER_ENVIRONMENT if key in os.environ}
            options = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False,
                       "runtime_env": {"env_vars": env} if env else None}
            if address is None:  # a local cluster that starts and stops with the stage
                options.update(num_cpus=workers, _node_ip_address="127.0.0.1", _temp_dir=session_dir(temp_dir),
                               object_store_memory=OBJECT_STORE_BYTES)
            else:
                options.pop("include_dashboard")
            ray.init(address=address, **options)
        gpus = 1 if device == "cuda" else 0
        worker = ray.remote(num_cpus=1, num_gpus=gpus)(Replica)
        self.workers = [worker.remote(backend, str(model_dir), device, tuple(stop), runtime) for _ in range(workers)]
        self._get(ray, [w.pid.remote() for w in self.workers])  # every replica loaded before the first batch

    @staticmethod
    def _get(ray, refs):
        try:
            return ray.get(refs)
        except ray.exceptions.RayActorError as error:
            raise WorkerLostError(f"a Ray sampling worker died ({type(error).__name__}); every finished batch is "
                                  "kept in data/resume/: rerun the stage to resume") from None

    def pids(self) -> list[int]:
        import ray

        return self._get(ray, [w.pid.remote() for w in self.workers])

    def generate(self, requests: list[Request], decoding: Decoding) -> list[Completion]:
        """The batch in contiguous chunks, one per worker; completions come back in request order."""
        import ray

        size = -(-len(requests) // len(self.workers))
        chunks = [requests[i: i + size] for i in range(0, len(requests), size)]
        refs = [w.generate.remote(chunk, decoding) for w, chunk in zip(self.workers, chunks)]
        return [completion for part in self._get(ray, refs) for completion in part]

    def close(self) -> None:
        import ray

        for worker in self.workers:
            ray.kill(worker)
        self.workers = []
        if self.started:
            ray.shutdown()


class Replica:
    """One model replica in a Ray worker process."""

    def __init__(self, backend: str, model_dir: str, device: str, stop: tuple[str, ...], runtime):
        from computematch.runtime import apply_runtime
        from computematch.sampling.base import get_backend

        apply_runtime(runtime or RuntimeConfig())  # the stage's thread count, in this process too
        self.backend = get_backend(backend, model_dir, device, stop, runtime)

    def pid(self) -> int:
        return os.getpid()

    def generate(self, requests: list[Request], decoding: Decoding) -> list[Completion]:
        return self.backend.generate(requests, decoding)
