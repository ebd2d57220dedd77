"""Parameter counts without weights, and base models loaded from a local directory (the hub path's offline twin)."""

import json

import pytest

from computematch.errors import ConfigError

from computematch.config import ModelSpec, PretrainConfig
from computematch.models import count_parameters, count_parameters_from_config, resolve_source, resolve_weights


def test_parameter_counts_come_from_the_config_without_weights():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, tie_word_embeddings=False)
    counts = count_parameters_from_config(config)
    assert counts == count_parameters(LlamaForCausalLM(config))
    assert counts["embedding"] == 2 * 1000 * 64  # input embeddings and an untied LM head
    layer = 4 * 64 * 64 + 3 * 64 * 128 + 2 * 64
    assert counts["non_embedding"] == 2 * layer + 64  # plus the final norm
    tied = count_parameters_from_config(LlamaConfig(**{**config.to_dict(), "tie_word_embeddings": True}))
    assert tied["embedding"] == 1000 * 64 and tied["non_embedding"] == counts["non_embedding"]


def test_gemma2_sized_configs_give_the_papers_ratio():
    from transformers import Gemma2Config

    # Published Gemma2 9B / 27B shapes (config.json on the hub); no weights are allocated.
    nine = Gemma2Config(vocab_size=256000, hidden_size=3584, intermediate_size=14336, num_hidden_layers=42,
                        num_attention_heads=16, num_key_value_heads=8, head_dim=256)
    big = Gemma2Config(vocab_size=256000, hidden_size=4608, intermediate_size=36864, num_hidden_layers=46,
                       num_attention_heads=32, num_key_value_heads=16, head_dim=128)
    small, large = count_parameters_from_config(nine), count_parameters_from_config(big)
    assert 9.0e9 < small["total"] < 9.5e9 and 27.0e9 < large["total"] < 27.5e9
    assert 2.9 < large["total"] / small["total"] < 3.2


def test_a_local_model_directory_resolves_and_a_missing_one_is_a_named_error(tiny_model_dir, tmp_path):
    assert resolve_source(ModelSpec(role="wc", load=str(tiny_model_dir))) == tiny_model_dir
    with pytest.raises(ConfigError, match=r"^models.se.load: directory ./nowhere does not exist"):
        resolve_source(ModelSpec(role="se", load="./nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_source(ModelSpec(role="se", load=str(tmp_path / "empty")))


def test_a_loaded_base_model_points_at_its_weights(tiny_model_dir, tmp_path):
    from computematch.models import load_model

    base = tmp_path / "base"
    base.mkdir()
    (base / "card.json").write_text(json.dumps({"weights_dir": str(tiny_model_dir), "gguf_file": None}))
    assert resolve_weights(base) == (tiny_model_dir, None)
    model, tokenizer = load_model(base)
    assert model.config.hidden_size == 16 and tokenizer.padding_side == "left"


def _tiny_pretrain(task, config, **kwargs):
    from computematch.models import build_task_tokenizer
    from computematch.pretraining import pretrain

    corpus = task.make_splits()["corpus"][:64]
    tokenizer = build_task_tokenizer("\n".join(task.prompt(p) + p.solution for p in corpus))
    fields = {"hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8}
    return pretrain(fields, tokenizer, [task.prompt(p) for p in corpus], [p.solution for p in corpus], config,
                    **kwargs)


def test_pretraining_stops_at_the_first_check_that_reaches_the_target_on_the_same_trajectory(tiny_task):
    import torch

    config = PretrainConfig(steps=12, batch_size=4, warmup_steps=1, check_every=3)
    scores = iter([0.1, 0.4, 0.7, 0.9])
    stopped, stats = _tiny_pretrain(tiny_task, config, score=lambda model: next(scores), stop_at=0.6)
    assert stats["steps"] == 9 and stats["max_steps"] == 12
    assert stats["val_checks"] == [(3, 0.1), (6, 0.4), (9, 0.7)]
    # scoring draws no random numbers: the stopped model is the one a never-stopping run has at step 9 (the cosine
    # schedule spans `steps` either way), and that run ends where a run without checks ends
    snapshots = []

    def snapshot(model):
        snapshots.append({name: tensor.clone() for name, tensor in model.state_dict().items()})
        return 0.0

    never, never_stats = _tiny_pretrain(tiny_task, config, score=snapshot, stop_at=0.99)
    plain, plain_stats = _tiny_pretrain(tiny_task, config)
    assert never_stats["steps"] == plain_stats["steps"] == 12 and plain_stats["val_checks"] == []
    assert all(torch.equal(snapshots[2][name], tensor) for name, tensor in stopped.state_dict().items())
    assert all(torch.equal(a, b) for a, b in zip(never.state_dict().values(), plain.state_dict().values()))
    assert not torch.equal(snapshots[2]["lm_head.weight"], plain.state_dict()["lm_head.weight"])


def test_the_greedy_scorer_scores_a_model_in_memory_as_the_saved_one_scores(tiny_model_dir, tiny_task):
    import zlib

    from computematch.greedy_checks import greedy_accuracy, greedy_scorer
    from computematch.models import load_model
    from computematch.tasks.base import Grade

    class ByText:  # "correct" for about half of all (problem, text) pairs, so a score of 0 proves nothing
        stop, config, grade_calls = tiny_task.stop, tiny_task.config, []

        def prompt(self, problem):
            return tiny_task.prompt(problem)

        def grade(self, problem, text):
            self.grade_calls.append(text)
            return Grade(answer=None, correct=zlib.crc32((problem.id + text).encode()) % 2 == 0, steps_ok=None)

    problems, task = tiny_task.make_splits()["val"][:24], ByText()
    model, tokenizer = load_model(tiny_model_dir)
    tokenizer.padding_side = "right"  # as the trainer's tokenizer is: the scorer pads a copy on the left
    score = greedy_scorer(task, problems, tokenizer)(model)
    in_memory, task.grade_calls[:] = list(task.grade_calls), []
    assert score == greedy_accuracy(tiny_model_dir, task, problems)["accuracy"]
    assert in_memory == task.grade_calls and 0 < score < 1
    assert tokenizer.padding_side == "right"


def test_a_sampled_check_grades_sample_zero_of_the_sample_stream_at_its_temperature(tiny_model_dir, tiny_task):
    from computematch.config import Decoding
    from computematch.greedy_checks import greedy_scorer, solution_budget
    from computematch.models import load_model
    from computematch.sampling import Request, get_backend

    problems = tiny_task.make_splits()["val"][:24]
    model, tokenizer = load_model(tiny_model_dir)
    decoding = Decoding(temperature=0.9, top_p=1.0, max_new_tokens=solution_budget(problems), seed=5)
    backend = get_backend("transformers", tiny_model_dir, "cpu", stop=tiny_task.stop)
    texts = {p.id: c.text for p, c in zip(problems, backend.generate(
        [Request(p.id, 0, tiny_task.prompt(p)) for p in problems], decoding))}
    graded = []

    class Recording:  # the tiny model is never right: record what the check grades instead
        stop, config = tiny_task.stop, tiny_task.config

        def prompt(self, problem):
            return tiny_task.prompt(problem)

        def grade(self, problem, text):
            graded.append((problem.id, text))
            return tiny_task.grade(problem, text)

    score = greedy_scorer(Recording(), problems, tokenizer, temperature=0.9, seed=5)(model)
    assert graded == [(p.id, texts[p.id]) for p in problems] and score == 0
    greedy = greedy_scorer(Recording(), problems, tokenizer)
    graded.clear()
    greedy(model)
    assert [text for _, text in graded] != [texts[p.id] for p in problems]  # the temperature reached the decoding


@pytest.mark.parametrize("spec, message", [
    ({"load": "some/model", "stop_at_accuracy": 0.5}, "applies only to a model pretrained here"),
    ({"pretrain": {"hidden_size": 8}, "stop_at_accuracy": 1.5}, "must be <= 1"),
    ({"pretrain": {"hidden_size": 8}, "stop_at_accuracy": 0}, "must be > 0"),
])
def test_stop_at_accuracy_is_checked_at_load(spec, message):
    with pytest.raises(ConfigError, match=rf"^models.wc.stop_at_accuracy: {message}"):
        ModelSpec(role="wc", **spec)


def test_epoch_batches_group_by_length_keeps_every_example_once_and_cuts_padding():
    import random

    import torch

    from computematch.pretraining import epoch_batches

    lengths = [random.Random(i).randint(5, 60) for i in range(1000)]
    plain = epoch_batches(lengths, 32, torch.Generator().manual_seed(0), group_by_length=False)
    grouped = epoch_batches(lengths, 32, torch.Generator().manual_seed(0), group_by_length=True)
    # plain batches are consecutive slices of the epoch's permutation, as pretraining always drew them
    assert [i for batch in plain for i in batch] == torch.randperm(1000, generator=torch.Generator().manual_seed(0)
                                                                   ).tolist()[:31 * 32]
    for batches in (plain, grouped):
        flat = [i for batch in batches for i in batch]
        assert len(batches) == 31 and all(len(batch) == 32 for batch in batches) and len(set(flat)) == len(flat)

    def padded(batches):  # positions a step computes on: every row padded to its batch's longest
        return sum(32 * max(lengths[i] for i in batch) for batch in batches)

    assert padded(grouped) < 0.75 * padded(plain)
    assert epoch_batches(lengths[:5], 32, torch.Generator().manual_seed(0), True) != []  # fewer than a batch


@pytest.mark.parametrize("name", ["group_by_length", "pack"])
def test_pretraining_switches_must_be_booleans(name):
    with pytest.raises(ConfigError, match=rf"^pretrain.{name}: must be true or false, got 'yes'$"):
        PretrainConfig(**{name: "yes"})


def test_a_packed_batch_gives_the_padded_batchs_loss_and_gradients_on_its_real_tokens_only():
    """Packing changes where each example sits, not what the model computes on it: the same loss and gradients as
    the padded batch (to float rounding), on fewer positions."""
    import random

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from computematch.pretraining import _collate, _pack_collate

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=20, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                         intermediate_size=32, max_position_embeddings=128, pad_token_id=0))
    draw = random.Random(0)
    examples = []
    for _ in range(9):
        prompt, completion = draw.randint(2, 12), draw.randint(1, 20)
        ids = [draw.randint(1, 19) for _ in range(prompt + completion)]
        examples.append((ids, [-100] * prompt + ids[prompt:]))

    def loss_and_grads(**batch):
        model.zero_grad()
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])

    input_ids, attention, labels = _collate(examples, 0)
    padded = loss_and_grads(input_ids=input_ids, attention_mask=attention, labels=labels)
    packed_ids, positions, packed_labels = _pack_collate(examples, 0)
    packed = loss_and_grads(input_ids=packed_ids, position_ids=positions, labels=packed_labels)
    assert packed[0] == pytest.approx(padded[0], rel=1e-5)
    assert torch.allclose(packed[1], padded[1], rtol=1e-4, atol=1e-6)
    assert packed_ids.numel() < input_ids.numel() and (packed_labels != -100).sum() == (labels != -100).sum()
    assert sorted(t for t in packed_ids.flatten().tolist() if t != 0) == sorted(t for ids, _ in examples for t in ids)
