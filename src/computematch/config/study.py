"""params.yaml sections of where and how often the study runs: the runtime, the worlds and cells, Ray, MLflow."""

from __future__ import annotations

from dataclasses import dataclass

from computematch.names import DATA_SOURCES, MODEL_ROLES
from computematch.config.checks import _fail, _is_int, _number, _positive_int, _string


DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class RuntimeConfig:
    """Where torch runs. Thread count is a param because it changes float sums, and tiny models' accuracy with them."""

    threads: int = 2
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: str = "auto"  # auto (the checkpoint's own), float32, bfloat16 or float16
    tensor_parallel_size: int = 1  # GPUs per model (vllm backend)
    gpu_memory_utilization: float = 0.9  # share of GPU memory vllm may take
    prefix_caching: bool = True  # vllm: reuse the KV cache of shared prompt prefixes (few-shot exemplars)
    cpu_kv_cache_gib: int = 1  # vllm on CPU: KV cache size (unset, vLLM would take most of the machine's RAM)
    processes: int = 1  # finetuning processes (ranks); > 1 trains data-parallel (gloo on CPU, NCCL on GPUs)
    distributed_timeout_s: int = 300  # a rank that stops answering fails the run after this long
    worker_processes: int | str = "auto"  # models a stage trains or evaluates at once; auto: all on a CPU

    def __post_init__(self):
        _positive_int("runtime.threads", self.threads)
        _string("runtime.device", self.device, DEVICES)
        _string("runtime.dtype", self.dtype, DTYPES)
        _positive_int("runtime.tensor_parallel_size", self.tensor_parallel_size)
        _number("runtime.gpu_memory_utilization", self.gpu_memory_utilization, low=0, high=1, low_open=True)
        if not isinstance(self.prefix_caching, bool):
            _fail("runtime.prefix_caching", f"must be true or false, got {self.prefix_caching!r}")
        _positive_int("runtime.cpu_kv_cache_gib", self.cpu_kv_cache_gib)
        _positive_int("runtime.processes", self.processes)
        _positive_int("runtime.distributed_timeout_s", self.distributed_timeout_s)
        if self.worker_processes != "auto" and (not _is_int(self.worker_processes) or self.worker_processes < 1):
            _fail("runtime.worker_processes", f"must be 'auto' or a positive integer, got {self.worker_processes!r}")


@dataclass(frozen=True)
class StudyConfig:
    """Which worlds and finetuning cells run. A world is an independent draw of everything random in the study
    (world_seed); the verdicts are intervals over worlds. Inside a world every cell trains once per seed."""

    worlds: tuple[int, ...] = (0, 1, 2)  # independent draws: base models, samples, finetuning, evaluation
    seeds: tuple[int, ...] = (0,)  # finetuning seeds inside a world (TRL's `seed`, shifted by the world)
    controls: tuple[str, ...] = ("wc-matched", "wc-verified", "se-verified")  # control data sources finetuned on
    control_models: tuple[str, ...] = ("se",)  # the models the controls finetune
    # a study.json of many worlds of this recipe: each verdict's replication share (None unless a config names one)
    replication_pool: str | None = None

    def __post_init__(self):
        for key, values, known in (("worlds", self.worlds, None), ("seeds", self.seeds, None),
                                    ("controls", self.controls, DATA_SOURCES[2:]),
                                    ("control_models", self.control_models, MODEL_ROLES)):
            if not isinstance(values, (list, tuple)):
                _fail(f"study.{key}", f"must be a list, got {values!r}")
            if len(set(values)) != len(values):
                _fail(f"study.{key}", f"lists an item twice: {list(values)!r}")
            for value in values:
                if known is None:
                    _positive_int(f"study.{key}", value, allow_zero=True)
                elif value not in known:
                    _fail(f"study.{key}", f"unknown {value!r} (known: {', '.join(known)})")
        for key in ("worlds", "seeds"):
            if not getattr(self, key):
                _fail(f"study.{key}", f"must list at least one {key[:-1]}")
        for key in ("worlds", "seeds", "controls", "control_models"):
            object.__setattr__(self, key, tuple(getattr(self, key)))
        if self.replication_pool is not None and (not isinstance(self.replication_pool, str) or not self.replication_pool):
            _fail("study.replication_pool", f"must be a path to a study.json or null, got {self.replication_pool!r}")


@dataclass(frozen=True)
class RayConfig:
    """Spreading the requests of sample, evaluate and judge over Ray workers, each holding one model replica."""

    workers: int = 1  # 1: sample in the stage's own process, no Ray
    address: str | None = None  # join an existing cluster ('127.0.0.1:6379'); null: a local one per stage
    temp_dir: str | None = None  # Ray's session files; null: .ray/ in the repository (gitignored)

    def __post_init__(self):
        _positive_int("ray.workers", self.workers)
        for key in ("address", "temp_dir"):
            if getattr(self, key) is not None:
                _string(f"ray.{key}", getattr(self, key))


@dataclass(frozen=True)
class TrackingConfig:
    """MLflow: where runs go. `uri: null` means a sqlite file in the repo; MLFLOW_TRACKING_URI overrides."""

    enabled: bool = True
    uri: str | None = None
    experiment: str = "computematch"

    def __post_init__(self):
        if not isinstance(self.enabled, bool):
            _fail("tracking.enabled", f"must be true or false, got {self.enabled!r}")
        if self.uri is not None:
            _string("tracking.uri", self.uri)
        _string("tracking.experiment", self.experiment)
