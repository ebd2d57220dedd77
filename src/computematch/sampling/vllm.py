"""The vLLM backend (GPU only): one engine request per sample, each with its own seed.

Each request's seed is `sample_key(seed, problem id, sample index)`, the same key the transformers
backend uses for its Gumbel streams. vLLM gives a request that has a seed its own random generator, so
sample j of problem p does not depend on which other samples share its batch: nested budgets read a
prefix and a resumed run draws what the interrupted one would have drawn. (The two backends use the
same keys but different samplers, so their texts differ; the store's fingerprint names the backend.)
"""

from __future__ import annotations

from computematch.config import ConfigError, Decoding, RuntimeConfig
from computematch.sampling import cut_at_stop
from computematch.sampling.base import Completion, Request
from computematch.sampling.streams import sample_key

INSTALL_HINT = "sampling.backend: vllm is not installed; install the GPU extra: pip install 'computematch[vllm]'"


def _import_vllm():
    """(LLM, SamplingParams), imported only when the backend is chosen: vllm is a GPU-only extra."""
    try:
        from vllm import LLM, SamplingParams
    except ImportError as error:
        raise ConfigError(INSTALL_HINT) from error
    return LLM, SamplingParams


class VLLMBackend:
    name = "vllm"

    def __init__(self, model_dir, device: str = "cuda", stop: tuple[str, ...] = (),
                 runtime: RuntimeConfig | None = None, engine=None, params_factory=None):
        # `device` is accepted for the shared constructor signature; vllm places the model itself.
        # `engine` and `params_factory` stand in for vllm.LLM and vllm.SamplingParams in tests.
        self.stop = tuple(stop)
        if engine is None or params_factory is None:
            LLM, SamplingParams = _import_vllm()
            params_factory = params_factory or SamplingParams
            if engine is None:
                from computematch.models import resolve_weights

                runtime = runtime or RuntimeConfig()
                weights, gguf_file = resolve_weights(model_dir)  # a `load` base model points at its weights
                engine = LLM(
                    model=str(weights / gguf_file if gguf_file else weights),
                    tensor_parallel_size=runtime.tensor_parallel_size,
                    gpu_memory_utilization=runtime.gpu_memory_utilization,
                    dtype=runtime.dtype,
                )
        self.engine, self.params_factory = engine, params_factory

    def sampling_params(self, request: Request, decoding: Decoding):
        """One request's settings: n=1 and, when sampling, the seed of its own random stream."""
        settings = {"n": 1, "max_tokens": decoding.max_new_tokens, "stop": list(self.stop)}
        if decoding.temperature > 0:
            settings.update(temperature=decoding.temperature, top_p=decoding.top_p,
                            seed=sample_key(decoding.seed, request.problem_id, request.sample_index))
        else:
            settings.update(temperature=0.0, top_p=1.0)  # greedy: no randomness, so no seed
        return self.params_factory(**settings)

    def generate(self, requests: list[Request], decoding: Decoding) -> list[Completion]:
        if not requests:
            return []
        outputs = self.engine.generate([r.prompt for r in requests],
                                       [self.sampling_params(r, decoding) for r in requests], use_tqdm=False)
        if len(outputs) != len(requests):
            raise RuntimeError(f"vllm returned {len(outputs)} outputs for {len(requests)} requests")
        return [_completion(output, self.stop) for _, output in zip(requests, outputs)]


def _completion(output, stop: tuple[str, ...]) -> Completion:
    """A vllm RequestOutput as a Completion; vllm already drops stop strings, the cut is a safeguard."""
    sample = output.outputs[0]
    text, stopped = cut_at_stop(sample.text, stop)
    # finish_reason is "stop" at EOS or a stop string, "length" at max_tokens; only the latter is unfinished.
    finished = sample.finish_reason != "length" or stopped
    return Completion(text, len(output.prompt_token_ids), len(sample.token_ids), finished)
