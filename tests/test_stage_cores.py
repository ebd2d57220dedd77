"""The pure cores under the stage mains, tested directly; and one load of each model per stage."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from computematch.budget import matched_level, samples_per_arm
from computematch.errors import ConfigError
from computematch.config import BudgetConfig, EvaluationConfig, JudgeConfig, RuntimeConfig, parse_params
from computematch.errors import UserError
from computematch.measure.records import FinetuneRecord, SftRecord
from computematch.stages.bootstrap import bootstrap_metrics
from computematch.stages.finetune import finetune_card, finetune_summary, global_batch, registry_tags
from computematch.stages.judge import judged_items
from computematch.stages.sample import arm_samples, sample_records, sample_summary
from computematch.tasks import Problem

CARDS = {"wc": {"parameters": {"total": 120, "non_embedding": 100}},
         "se": {"parameters": {"total": 330, "non_embedding": 300}}}


def test_s_wc_is_computed_in_one_place_and_matches_the_stage():
    budget = BudgetConfig(se_samples=3)
    samples, ratio = samples_per_arm(budget, 100, 300)
    assert samples == {"wc": 9, "se": 3} and ratio == 3.0
    assert arm_samples(budget, "wc", CARDS["wc"], CARDS["se"]) == (9, 3.0)
    assert arm_samples(budget, "se", None, CARDS["se"]) == (3, 1.0)  # SE never reads WC's card
    assert arm_samples(BudgetConfig(se_samples=3, param_count="total"), "wc", CARDS["wc"], CARDS["se"])[0] == 8
    assert arm_samples(BudgetConfig(se_samples=2, ratio=4), "wc", CARDS["wc"], CARDS["se"]) == (8, 4.0)


def test_matched_budget_levels():
    assert [matched_level(k, 3, 9) for k in (1, 2, 3)] == [3, 6, 9]
    assert [matched_level(k, 10, 31) for k in (1, 10)] == [3, 31]


def test_sample_records_and_summary_carry_the_ledger():
    store = [{"problem_id": "p", "sample_index": i, "text": "x", "prompt_tokens": 4, "completion_tokens": 10,
              "finished": i == 0} for i in range(2)]
    records = sample_records(store, {"p": 3})
    assert records[0] == {"problem_id": "p", "sample_index": 0, "difficulty": 3, "completion": "x", "prompt_tokens": 4,
                          "completion_tokens": 10, "finished": True}
    summary = sample_summary(records, drawn=1, samples=2, ratio=1.0, problems=1, parameters=CARDS["se"]["parameters"],
                             seconds=2.0)
    assert summary["flops"]["non_embedding"] == 2 * 300 * 20 and summary["reused"] == 1
    assert summary["generated_tokens_per_second"] == 5.0 and summary["unfinished"] == 1


def test_finetune_card_tags_and_summary():
    result = {"trained": False, "skipped": "no data", "checkpoint": None, "val_greedy_by_checkpoint": {},
              "val_greedy_accuracy": 0.4, "train_loss": [], "trained_tokens": 0}
    dataset = {"dataset": "data/filter/wc.jsonl", "dataset_sha256": "abc", "examples": 0, "processes": 2,
               "global_batch": 32}
    base = {"weights_dir": "/hub/se", "gguf_file": None, "parameters": {"total": 12, "non_embedding": 10}}
    card = finetune_card("se", "wc", 2, 1, result, dataset, base, 1.234, {"torch": "x"})
    assert card["weights_dir"] == "/hub/se" and card["paradigm"] == "weak-to-strong improvement"
    assert card["seconds"] == 1.23 and card["environment"] == {"torch": "x"} and (card["world"], card["seed"]) == (2, 1)
    assert card["training_flops"] == {"total": 0.0, "non_embedding": 0.0}
    trained = finetune_card("se", "wc-verified", 0, 0, {**result, "trained": True, "trained_tokens": 1000}, dataset, base,
                            1.0, {})
    assert trained["training_flops"]["non_embedding"] == 6 * 10 * 1000 and "weights_dir" not in trained
    assert trained["paradigm"] == "weak-to-strong improvement"  # a control's paradigm is its arm's
    data = SftRecord(variant="full", coverage=0.8, diversity=2.0, fpr=0.3, samples_per_problem=9, examples=5)
    tags = registry_tags(card, data)
    assert tags["data_source"] == "wc" and tags["data.coverage"] == 0.8 and tags["trained"] is False
    assert (tags["world"], tags["seed"]) == (2, 1)
    assert finetune_summary(card) == FinetuneRecord(
        trained=False, val_greedy_accuracy=0.4, processes=2, global_batch=32, checkpoint_step=None, examples=0,
        trained_tokens=0, training_flops={"total": 0.0, "non_embedding": 0.0}, seconds=1.23, final_train_loss=None)
    assert global_batch({"per_device_train_batch_size": 16}, 2) == global_batch({"per_device_train_batch_size": 32}, 1)
    assert global_batch({"gradient_accumulation_steps": 2}, 1) == 16  # TRL's default per-device batch is 8


def test_judged_items_are_a_seeded_subset():
    problems = {f"p{i}": Problem(f"p{i}", f"q{i}", str(i), "s", 2) for i in range(10)}
    kept = [{"problem_id": f"p{i}", "completion": f"c{i}", "steps_ok": i % 2 == 0} for i in range(10)]
    config = JudgeConfig(sample_size=4, seed=1)
    first = judged_items(config, "wc", problems, kept)
    assert first == judged_items(config, "wc", problems, kept) and len(first) == 4
    assert first != judged_items(config, "se", problems, kept)
    assert {"question", "solution", "answer", "steps_ok"} == set(first[0])


def test_bootstrap_metrics_from_a_card():
    card = {"parameters": {"total": 2}, "val_greedy": {"accuracy": 0.5, "by_difficulty": {"2": 0.5}}, "seconds": 3,
            "weights_sha256": "abc",
            "environment": {}, "pretrain": {"final_loss": 0.1, "steps": 625, "stop_at_accuracy": 0.7}}
    assert bootstrap_metrics(card).final_loss == 0.1 and bootstrap_metrics({**card, "pretrain": {}}).final_loss is None
    assert bootstrap_metrics(card).pretrain_steps == 625 and bootstrap_metrics(card).stop_at_accuracy == 0.7
    assert bootstrap_metrics(card).weights_sha256 == "abc"


@pytest.fixture()
def evaluation_workspace(tmp_path, monkeypatch, tiny_model_dir, tiny_task):
    """A repository-shaped folder with the tiny model as `wc` and a prepared test split."""
    from computematch.splits import write_split

    monkeypatch.chdir(tmp_path)
    for split, problems in tiny_task.make_splits().items():
        write_split(split, problems)
    shutil.copytree(tiny_model_dir, tmp_path / "models" / "base" / "wc" / "world-0")
    (tmp_path / "models" / "base" / "wc" / "world-0" / "card.json").write_text(json.dumps({"weights_sha256": "tiny"}))
    return tmp_path


def test_evaluate_loads_its_model_once(evaluation_workspace, monkeypatch):
    from computematch import models
    from computematch.stages import evaluate

    loads = []
    original = models.load_model
    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: loads.append(args) or original(*args, **kwargs))
    params = parse_params({"task": {"train_size": 8, "val_size": 4, "test_size": 6, "levels": [2, 3],
                                    "corpus_size": 300, "corpus_weights": [1, 1]},
                           "models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "evaluation": {"samples": 2, "maj_k": [2], "max_new_tokens": 24, "batch_size": 8},
                           "tracking": {"enabled": False}})
    evaluate.main(params, ("wc",), worlds=(0,))
    assert len(loads) == 1  # sampled and greedy decoding share one load
    metrics = evaluation_workspace / "metrics" / "eval" / "wc" / "world-0.json"
    result = json.loads(metrics.read_text())
    assert {"pass@1", "greedy", "maj@2"} <= set(result) and result["problems"] == 6
    # scored again (a stage rerun for another world): restored from the store, the model not even loaded
    metrics.unlink()
    evaluate.main(params, ("wc",), worlds=(0,))
    assert len(loads) == 1 and json.loads(metrics.read_text()) == result
    # another model in the same folder is another key: scored again
    weights = evaluation_workspace / "models" / "base" / "wc" / "world-0" / "model.safetensors"
    weights.write_bytes(weights.read_bytes())  # the same bytes: the same key
    evaluate.main(params, ("wc",), worlds=(0,))
    assert len(loads) == 1
    (weights.parent / "config.json").write_text((weights.parent / "config.json").read_text() + " ")
    evaluate.main(params, ("wc",), worlds=(0,))
    assert len(loads) == 2


def test_evaluation_sized_from_a_standard_error_scores_and_prints_its_subset(evaluation_workspace, capsys):
    from computematch.stages import evaluate

    params = parse_params({"task": {"train_size": 8, "val_size": 4, "test_size": 6, "levels": [2, 3],
                                    "corpus_size": 300, "corpus_weights": [1, 1]},
                           "models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "evaluation": {"samples": 2, "maj_k": [2], "max_new_tokens": 24, "batch_size": 8,
                                          "standard_error": 25.0},
                           "tracking": {"enabled": False}})
    evaluate.main(params, ("wc",), worlds=(0,))
    result = json.loads((evaluation_workspace / "metrics" / "eval" / "wc" / "world-0.json").read_text())
    assert result["problems"] == 4  # 50 / sqrt(4) = 25 points
    assert "evaluate: 4 of 6 test problems, 2 samples each: a pass@1 standard error of at most 25.00 points" \
        in capsys.readouterr().out


def test_evaluation_decodes_sampled_and_greedy_from_one_config():
    config = EvaluationConfig(temperature=0.7, max_new_tokens=50, seed=3)
    assert config.decoding().temperature == 0.7 and config.decoding(greedy=True).greedy
    assert config.decoding(greedy=True).max_new_tokens == 50


def test_a_cell_runs_every_world_and_seed_of_the_study_in_one_stage(monkeypatch, tmp_path):
    from computematch.stages import evaluate, finetune

    monkeypatch.chdir(tmp_path)  # the members' staging folders

    params = parse_params({"models": {"wc": {"load": "x"}, "se": {"load": "y"}},
                           "study": {"worlds": [0, 3], "seeds": [4]}, "tracking": {"enabled": False}})
    evaluated, trained, pools = [], [], []

    def inline(function, jobs, threads, processes, preload):  # map_workers, run here: the workers' own test is apart
        pools.append((len(jobs), threads, processes))
        for job in jobs:
            yield function(*job)

    for module in (evaluate, finetune):
        monkeypatch.setattr(module, "apply_runtime", lambda runtime: "cpu")
        monkeypatch.setattr(module, "map_workers", inline)
    monkeypatch.setattr(evaluate, "score_one", lambda params, name, world, seed, device: ({"job": (name, world, seed)}, 1.0))
    monkeypatch.setattr(evaluate, "stored_scores", lambda *args: tmp_path / "never-stored")  # the store's own test: above
    monkeypatch.setattr(evaluate, "keep", lambda *args, **kwargs: None)
    monkeypatch.setattr(evaluate, "record_one", lambda params, name, world, seed, scores, seconds, threads:
                        evaluated.append((*scores["job"], threads)))
    evaluate.main(params, ("se-wc-verified",))
    evaluate.main(params, ("se-wc",), worlds=(3,))
    evaluate.main(params, ("student", "wc", "se"), worlds=(0,))  # a world's base models: one each, whatever the seeds
    assert evaluated == [("se-wc-verified", 0, 4, 1), ("se-wc-verified", 3, 4, 1), ("se-wc", 3, 4, 2),
                         ("student", 0, None, 1), ("wc", 0, None, 1), ("se", 0, None, 1)]
    monkeypatch.setattr(finetune, "prompt_renderer", lambda task, model_dir: str)
    monkeypatch.setattr(finetune, "read_jsonl", lambda path: [{"prompt": "Q", "completion": "A", "path": str(path)}])
    monkeypatch.setattr(finetune, "member_key", lambda params, role, data, world, seed, threads, device: "k")

    def train(params, role, data, world, seed, records, work, device):
        (work / "best").mkdir()
        return {"data": records[0]["path"]}, 1.0

    monkeypatch.setattr(finetune, "train_member", train)
    monkeypatch.setattr(finetune, "record_member", lambda params, role, data, world, seed, examples, work, result,
                        seconds, threads: trained.append((role, data, world, seed, result["data"],
                                                          (work / "best").is_dir(), threads,
                                                          "restored_from" in result)))
    finetune.main(params, "se", ("wc",))
    shutil.rmtree(tmp_path / "data" / "resume" / "finetune" / "se-wc" / "world-3-seed-4-k")
    finetune.main(params, "se", ("wc",), worlds=(0, 3))  # world 0 is stored: only world 3 trains, alone
    assert trained == [("se", "wc", 0, 4, "data/filter/wc/world-0.jsonl", True, 1, False),
                       ("se", "wc", 3, 4, "data/filter/wc/world-3.jsonl", True, 1, False),
                       ("se", "wc", 0, 4, "data/filter/wc/world-0.jsonl", True, 1, True),
                       ("se", "wc", 3, 4, "data/filter/wc/world-3.jsonl", True, 1, False)]
    # Two models: two processes, one thread each (runtime.threads 2); one model left to train: one process with
    # the thread count the whole cell decided (1), not both threads, so a member's bits do not depend on the others
    assert pools == [(2, 2, 2), (1, 2, 1), (3, 3, 3), (2, 2, 2), (1, 1, 1)]  # (3, 3, 3): evaluate, one thread each
    # one model on two data sources (the stage finetune@se): both cells' members side by side, each on its own data
    trained.clear()
    finetune.main(params, "se", ("wc", "se"), worlds=(3,))
    assert trained == [("se", "wc", 3, 4, "data/filter/wc/world-3.jsonl", True, 1, True),
                       ("se", "se", 3, 4, "data/filter/se/world-3.jsonl", True, 1, False)]
    assert pools[-1] == (1, 1, 1)


def test_models_run_side_by_side_only_where_the_model_runs_in_the_stage_process():
    from computematch.runtime import worker_processes

    auto, two = RuntimeConfig(), RuntimeConfig(worker_processes=2)
    assert worker_processes(auto, 3, "cpu") == 3 and worker_processes(auto, 3, "cuda") == 1
    assert worker_processes(auto, 1, "cpu") == 1 and worker_processes(auto, 3, "cpu", in_process=False) == 1
    assert worker_processes(two, 3, "cuda") == 2 and worker_processes(two, 1, "cpu") == 1
    assert worker_processes(RuntimeConfig(worker_processes=1), 3, "cpu") == 1


def test_workers_get_their_share_of_the_threads_and_return_in_order():
    import torch

    from computematch.runtime import map_workers

    assert list(map_workers(torch.get_num_threads, [()] * 3, threads=2, processes=2)) == [1, 1, 1]
    assert list(map_workers(torch.get_num_threads, [()] * 2, threads=4, processes=2)) == [2, 2]
    assert list(map_workers(torch.get_num_threads, [()], threads=1, processes=1)) == [1]  # in this process, too
    results = map_workers(RuntimeConfig, [(3,), (0,)], threads=2, processes=2)
    assert next(results).threads == 3
    with pytest.raises(ConfigError, match=r"^runtime.threads: must be a positive integer, got 0$"):
        next(results)  # a worker's error arrives as itself, one line naming the key
    import os

    with pytest.raises(UserError, match=r"^_exit: a worker process died .*runtime.worker_processes: 1 runs the models"):
        list(map_workers(os._exit, [(1,), (1,)], threads=2, processes=2))  # a worker killed: a one-line error


def test_every_worlds_base_models_train_one_per_thread_the_largest_first_and_stored_ones_come_back(
        monkeypatch, tmp_path):
    from computematch import paths
    from computematch.io import replace_dir
    from computematch.stages import bootstrap

    monkeypatch.chdir(tmp_path)
    for split in bootstrap.SPLITS:  # the store's key reads the splits by content
        (tmp_path / paths.split_file(split)).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / paths.split_file(split)).write_text(split)
    raw = yaml.safe_load((Path(__file__).parents[1] / "params.yaml").read_text())  # student < wc < se
    params = parse_params({**raw, "tracking": {"enabled": False}})
    pools, recorded = [], []

    def inline(function, jobs, threads, processes, preload):
        pools.append(([(job[1], job[2]) for job in jobs], threads, processes))
        for job in jobs:
            (job[3] / "weights").write_text(f"{job[1]}/{job[2]}")
            (job[3] / "card.json").write_text(json.dumps({"role": job[1]}))
            yield {"role": job[1], "seconds": 1.0}

    def record(params, role, world, staging, card, threads, restored_from=None):
        recorded.append((role, world, (staging / "weights").read_text(), card["role"], threads, restored_from is not None))
        replace_dir(staging, paths.base_model_dir(role, world))
        return card

    monkeypatch.setattr(bootstrap, "apply_runtime", lambda runtime: "cpu")
    monkeypatch.setattr(bootstrap, "map_workers", inline)
    monkeypatch.setattr(bootstrap, "record_model", record)
    bootstrap.main(params, (2,))
    # two workers (runtime.threads 2), one thread each, as three side by side had: the same bits
    assert pools == [([("se", 2), ("wc", 2), ("student", 2)], 2, 2)]
    assert recorded == [(role, 2, f"{role}/2", role, 1, False) for role in ("se", "wc", "student")]
    recorded.clear()
    bootstrap.main(params, (2, 3))  # world 2's models come back from the store; only world 3's train, largest first
    assert pools[-1] == ([("se", 3), ("wc", 3), ("student", 3)], 2, 2)
    assert recorded == [(role, world, f"{role}/{world}", role, 1, world == 2)
                        for role in ("se", "wc", "student") for world in (2, 3)]
    # another world list in one stage: every world's largest model first, so SE never waits behind a smaller one
    shutil.rmtree(paths.RESUME)
    bootstrap.main(params, (0, 1))
    assert pools[-1][0] == [("se", 0), ("se", 1), ("wc", 0), ("wc", 1), ("student", 0), ("student", 1)]
    # a changed input (the corpus) is another key: nothing restored
    (tmp_path / paths.split_file("corpus")).write_text("another corpus")
    recorded.clear()
    bootstrap.main(params, (0,))
    assert [entry[-1] for entry in recorded] == [False, False, False]
    bootstrap.main(parse_params({**raw, "tracking": {"enabled": False},
                                 "runtime": {**raw["runtime"], "worker_processes": 3}}), (5,))
    assert pools[-1] == ([("se", 5), ("wc", 5), ("student", 5)], 3, 3)


@pytest.mark.slow
@pytest.mark.parametrize("pack", [False, True])
def test_a_worlds_base_models_do_not_depend_on_the_worlds_trained_beside_it(tmp_path, monkeypatch, pack):
    """World 3 pretrained in one stage with worlds 0 and 1 (two workers: its models go to whichever worker is free)
    and pretrained alone (one model per worker, in another order): the same bits, role by role."""
    from computematch.stages import bootstrap, prepare

    raw = {"task": {"train_size": 8, "val_size": 4, "test_size": 6, "levels": [2, 3], "corpus_size": 200,
                    "corpus_weights": [1, 1]},
           "models": {"student": {"pretrain": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                               "intermediate_size": 16}},
                      "wc": {"pretrain": {"hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
                                          "intermediate_size": 32}, "stop_at_accuracy": 1.0},
                      "se": {"pretrain": {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                          "intermediate_size": 64}}},
           "pretrain": {"steps": 30, "batch_size": 8, "warmup_steps": 2, "check_every": 10, "pack": pack},
           "runtime": {"threads": 2}, "tracking": {"enabled": False}}
    digests = {}
    for name, worlds in (("beside", (0, 1, 3)), ("alone", (3,))):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        params = parse_params(raw)
        prepare.main(params)
        bootstrap.main(params, worlds)
        digests[name] = {role: json.loads(Path(f"models/base/{role}/world-3/card.json").read_text())["weights_sha256"]
                         for role in ("student", "wc", "se")}
        assert Path("models/base/se/world-0").exists() == (name == "beside")
    assert digests["beside"] == digests["alone"]
    steps = json.loads(Path("models/base/wc/world-3/card.json").read_text())["pretrain"]
    assert steps["val_checks"] and len(steps["val_checks"]) == 3  # the stop rule ran (a target no model reaches)
