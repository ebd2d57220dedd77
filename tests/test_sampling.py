import math

import pytest
import torch

from computematch.config import Decoding
from computematch.sampling import Completion, Request
from computematch.sampling.driver import SampleStore, draw
from computematch.sampling.streams import gumbel_noise, mix32, sample_key


class FakeBackend:
    """Deterministic completions from the request alone; can be told to die after some batches."""

    def __init__(self, fail_after_batches: int | None = None):
        self.calls, self.fail_after = [], fail_after_batches

    def generate(self, requests, decoding):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt("killed")
        self.calls.append([(r.problem_id, r.sample_index) for r in requests])
        return [Completion(f"{r.problem_id}/{r.sample_index}", 3, 5, True) for r in requests]


PROMPTS = {f"p{i}": f"Q: {i}+0=?\nA: " for i in range(5)}
DECODING = Decoding()


def test_hash_matches_on_python_ints_and_int64_tensors():
    """Python's ints never overflow; the tensor path's int64 products pass 2**63 and must wrap to the same bits."""
    import random

    draw = random.Random(0).randrange
    values = [0, 1, 12345, 2**31, 2**32 - 1, 0xDEADBEEF] + [draw(2**32) for _ in range(5000)]
    tensor = mix32(torch.tensor(values, dtype=torch.int64)).tolist()
    assert tensor == [mix32(v) for v in values]
    assert all(0 <= v < 2**32 for v in tensor) and len(set(tensor[:6])) == 6


def test_gumbel_noise_has_the_gumbel_mean_and_depends_only_on_the_key():
    keys = torch.tensor([sample_key(0, "p1", 0), sample_key(0, "p1", 1)], dtype=torch.int64)
    noise = gumbel_noise(keys, step=3, vocab_size=20000)
    assert noise.mean().item() == pytest.approx(0.5772, abs=0.02)  # Euler-Mascheroni constant
    alone = gumbel_noise(keys[1:], step=3, vocab_size=20000)
    assert torch.equal(noise[1], alone[0])
    assert not torch.equal(noise[0], noise[1])
    assert not torch.equal(gumbel_noise(keys, step=4, vocab_size=10), noise[:, :10])


def test_sample_keys_differ_by_seed_problem_and_index():
    keys = {sample_key(s, p, i) for s in (0, 1) for p in ("a", "b") for i in range(3)}
    assert len(keys) == 12


def test_interrupted_run_resumes_without_losing_or_redrawing_samples(tmp_path):
    store_path = tmp_path / "store.jsonl"
    with pytest.raises(KeyboardInterrupt):
        draw(FakeBackend(fail_after_batches=2), DECODING, PROMPTS, 3, SampleStore(store_path), batch_size=4)
    assert len(SampleStore(store_path).records) == 8
    with store_path.open("a") as handle:
        handle.write('{"problem_id": "p4", "sample_')  # a torn last line
    backend = FakeBackend()
    store = SampleStore(store_path)
    records, drawn = draw(backend, DECODING, PROMPTS, 3, store, batch_size=4)
    assert store.dropped_lines == 1 and drawn == 15 - 8
    assert sum(len(call) for call in backend.calls) == 7
    assert [r["text"] for r in records] == [f"p{i}/{j}" for i in range(5) for j in range(3)]


def test_larger_budget_draws_only_new_indices_and_smaller_reads_a_prefix(tmp_path):
    store = SampleStore(tmp_path / "store.jsonl")
    small, _ = draw(FakeBackend(), DECODING, PROMPTS, 2, store, batch_size=3)
    backend = FakeBackend()
    large, drawn = draw(backend, DECODING, PROMPTS, 4, store, batch_size=3)
    assert drawn == 10 and all(index >= 2 for call in backend.calls for _, index in call)
    assert [r for r in large if r["sample_index"] < 2] == small


def test_a_changed_prompt_is_redrawn_under_the_same_id(tmp_path):
    store = SampleStore(tmp_path / "store.jsonl")
    draw(FakeBackend(), DECODING, PROMPTS, 1, store, batch_size=8)
    _, drawn = draw(FakeBackend(), DECODING, {**PROMPTS, "p0": "Q: 9+0=?\nA: "}, 1, store, batch_size=8)
    assert drawn == 1


def _sample(model_dir, problems, samples, batch_size, seed=0, temperature=1.0):
    from computematch.sampling.hf import TransformersBackend

    decoding = Decoding(temperature=temperature, max_new_tokens=30, seed=seed)
    backend = TransformersBackend(model_dir, device="cpu")
    requests = [Request(p.id, j, "Q: " + p.question[3:] + "\nA: ") for p in problems for j in range(samples)]
    texts = []
    for start in range(0, len(requests), batch_size):
        texts += [c.text for c in backend.generate(requests[start: start + batch_size], decoding)]
    return {(r.problem_id, r.sample_index): t for r, t in zip(requests, texts)}


def test_same_seed_same_samples_and_nested_budgets_are_prefixes(tiny_model_dir, tiny_task):
    problems = tiny_task.make_splits()["train"][:4]
    large = _sample(tiny_model_dir, problems, samples=4, batch_size=16)
    small = _sample(tiny_model_dir, problems, samples=2, batch_size=3)  # other batches, other padding
    assert small == {key: text for key, text in large.items() if key[1] < 2}
    assert _sample(tiny_model_dir, problems, samples=4, batch_size=16) == large
    assert len(set(large.values())) > 4  # it does sample: not one completion per problem
    other_seed = _sample(tiny_model_dir, problems, samples=4, batch_size=16, seed=1)
    assert other_seed != large


def test_zero_temperature_is_greedy(tiny_model_dir, tiny_task):
    problems = tiny_task.make_splits()["train"][:2]
    greedy = _sample(tiny_model_dir, problems, samples=3, batch_size=6, temperature=0.0)
    for problem in problems:
        assert len({greedy[(problem.id, j)] for j in range(3)}) == 1


def test_sampled_token_frequencies_follow_the_softmax():
    """Gumbel-max over many keys reproduces softmax(logits / T)."""
    from computematch.sampling.hf import GumbelNoise

    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]]).repeat(20000, 1)
    keys = torch.tensor([sample_key(0, "p", i) for i in range(20000)], dtype=torch.int64)
    picks = (GumbelNoise(keys, prompt_width=0)(torch.zeros(20000, 5), logits)).argmax(dim=1)
    expected = torch.softmax(logits[0], dim=0)
    observed = torch.bincount(picks, minlength=4).double() / 20000
    assert torch.allclose(observed, expected.double(), atol=0.015), (observed, expected)
    assert math.isclose(observed.sum().item(), 1.0)
