"""The vllm backend with a fake engine (offline, no GPU), and once with the real engine where there is one."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from testing_utils import is_vllm_available, require_gpu, require_vllm

from computematch.config import ConfigError, Decoding, RuntimeConfig
from computematch.sampling import Request, get_backend
from computematch.sampling.streams import sample_key
from computematch.sampling.vllm import VLLMBackend


class FakeSamplingParams:
    """vllm.SamplingParams' keywords (a misspelt one fails here as it would there), stored as given."""

    def __init__(self, n=1, temperature=1.0, top_p=1.0, max_tokens=16, stop=None, seed=None):
        self.n, self.temperature, self.top_p, self.max_tokens, self.stop, self.seed = (
            n, temperature, top_p, max_tokens, stop, seed)


class FakeEngine:
    """Stands in for vllm.LLM: records each call and answers from `reply(prompt, params)`."""

    def __init__(self, reply=None):
        self.calls = []
        self.reply = reply or (lambda prompt, params: (f"{prompt}#{params.seed}", 3, "stop"))

    def generate(self, prompts, params, use_tqdm=True):
        assert isinstance(params, list) and len(params) == len(prompts) and use_tqdm is False
        self.calls.append(list(zip(prompts, params)))
        outputs = []
        for prompt, sampling in zip(prompts, params):
            text, tokens, reason = self.reply(prompt, sampling)
            sample = SimpleNamespace(text=text, token_ids=list(range(tokens)), finish_reason=reason)
            outputs.append(SimpleNamespace(prompt=prompt, prompt_token_ids=list(range(len(prompt))), outputs=[sample]))
        return outputs


class WithDecoding:
    """A backend with its decoding settings fixed, so a test reads `backend.generate(requests)`."""

    def __init__(self, backend, decoding):
        self.backend, self.decoding = backend, decoding

    def generate(self, requests):
        return self.backend.generate(requests, self.decoding)


def _backend(engine=None, stop=(), **settings):
    decoding = Decoding(**{"temperature": 0.7, "top_p": 0.9, "max_new_tokens": 20, "seed": 5, **settings})
    backend = VLLMBackend("unused", stop=stop, engine=engine or FakeEngine(), params_factory=FakeSamplingParams)
    return WithDecoding(backend, decoding)


def _requests(pairs):
    return [Request(pid, index, f"Q {pid}?") for pid, index in pairs]


def _sent(engine, call=-1):
    return [params for _, params in engine.calls[call]]


def test_each_request_is_one_vllm_request_with_its_own_seed():
    engine = FakeEngine()
    requests = _requests([("p0", 0), ("p0", 1), ("p1", 0)])
    _backend(engine).generate(requests)
    assert len(engine.calls) == 1
    sent = _sent(engine)
    assert [p.seed for p in sent] == [sample_key(5, r.problem_id, r.sample_index) for r in requests]
    assert len({p.seed for p in sent}) == 3
    assert all(p.n == 1 and p.temperature == 0.7 and p.top_p == 0.9 and p.max_tokens == 20 for p in sent)


def test_a_samples_seed_does_not_depend_on_its_batch():
    engine = FakeEngine()
    backend = _backend(engine)
    backend.generate(_requests([("p0", 0), ("p3", 2)]))
    backend.generate(_requests([("p9", 1), ("p3", 2), ("p1", 0), ("p0", 0)]))
    first, second = ({(prompt, p.seed) for prompt, p in call} for call in engine.calls)
    assert first <= second


def test_greedy_requests_carry_no_seed():
    engine = FakeEngine()
    _backend(engine, temperature=0.0).generate(_requests([("p0", 0), ("p0", 1)]))
    assert all(p.temperature == 0.0 and p.seed is None and p.top_p == 1.0 for p in _sent(engine))


def test_stop_strings_are_passed_and_cut():
    engine = FakeEngine(lambda prompt, params: ("7\nQ: next", 9, "stop"))
    [completion] = _backend(engine, stop=("\nQ:", "\n\n")).generate(_requests([("p0", 0)]))
    assert _sent(engine)[0].stop == ["\nQ:", "\n\n"]
    assert completion.text == "7" and completion.finished


def test_token_counts_and_finished_come_from_the_output():
    replies = {"Q p0?": ("12", 3, "stop"), "Q p1?": ("1234", 20, "length")}
    engine = FakeEngine(lambda prompt, params: replies[prompt])
    done, cut = _backend(engine).generate(_requests([("p0", 0), ("p1", 0)]))
    assert (done.text, done.prompt_tokens, done.completion_tokens, done.finished) == ("12", 5, 3, True)
    assert (cut.text, cut.prompt_tokens, cut.completion_tokens, cut.finished) == ("1234", 5, 20, False)


def test_outputs_come_back_in_request_order():
    requests = _requests([("p2", 1), ("p0", 0), ("p1", 3), ("p0", 2)])
    completions = _backend().generate(requests)
    expected = [f"{r.prompt}#{sample_key(5, r.problem_id, r.sample_index)}" for r in requests]
    assert [c.text for c in completions] == expected
    assert _backend().generate([]) == []


@pytest.mark.skipif(is_vllm_available(), reason="vllm is installed here")
def test_without_vllm_the_backend_names_the_extra_to_install():
    with pytest.raises(ConfigError, match=r"computematch\[vllm\]") as error:
        get_backend("vllm", "unused")
    assert str(error.value).startswith("sampling.backend:") and "\n" not in str(error.value)


def test_the_engine_is_built_from_the_runtime_settings(monkeypatch):
    built = {}
    fake_vllm = SimpleNamespace(LLM=lambda **kwargs: built.update(kwargs) or FakeEngine(),
                                SamplingParams=FakeSamplingParams)
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm)
    runtime = RuntimeConfig(dtype="bfloat16", tensor_parallel_size=2, gpu_memory_utilization=0.5)
    backend = get_backend("vllm", Path("models/wc"), "cuda", ("\n\n",), runtime)
    assert built == {"model": "models/wc", "tensor_parallel_size": 2, "gpu_memory_utilization": 0.5,
                     "dtype": "bfloat16"}
    assert backend.generate(_requests([("p0", 1)]), Decoding(seed=3))[0].text == f"Q p0?#{sample_key(3, 'p0', 1)}"


# ---------------------------------------------------------------- the real engine (GPU machines only)


@pytest.fixture(scope="module")
def vllm_model_dir(tmp_path_factory, tiny_task):
    """Like conftest's tiny_model_dir, but with 64-wide heads: vllm's attention kernels do not take 8-wide ones."""
    from conftest import build_tiny_model

    fields = {"hidden_size": 128, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 256}
    return build_tiny_model(tiny_task, fields, tmp_path_factory.mktemp("tiny-vllm-model"))


def _draw(backend, problems, samples, batch_size, decoding):
    requests = [Request(p.id, j, "Q: " + p.question[3:] + "\nA: ") for p in problems for j in range(samples)]
    texts = []
    for start in range(0, len(requests), batch_size):
        texts += [c.text for c in backend.generate(requests[start: start + batch_size], decoding)]
    return {(r.problem_id, r.sample_index): t for r, t in zip(requests, texts)}


@pytest.mark.gpu
@require_gpu
@require_vllm
def test_real_engine_nested_budgets_are_prefixes(vllm_model_dir, tiny_task):
    problems = tiny_task.make_splits()["train"][:4]
    sampled = Decoding(temperature=1.0, max_new_tokens=30, seed=0)
    # One engine for the whole test: vllm does not hand GPU memory back to a second LLM in the same process.
    backend = get_backend("vllm", vllm_model_dir, "cuda", runtime=RuntimeConfig(gpu_memory_utilization=0.3))
    large = _draw(backend, problems, 4, 16, sampled)
    small = _draw(backend, problems, 2, 3, sampled)  # other batches
    assert small == {key: text for key, text in large.items() if key[1] < 2}
    assert _draw(backend, problems, 4, 16, sampled) == large
    assert len(set(large.values())) > 4  # it does sample: not one completion per problem
    assert _draw(backend, problems, 4, 16, Decoding(temperature=1.0, max_new_tokens=30, seed=1)) != large
    texts = _draw(backend, problems, 3, 6, Decoding(temperature=0.0, max_new_tokens=30))
    assert all(len({texts[(p.id, j)] for j in range(3)}) == 1 for p in problems)
