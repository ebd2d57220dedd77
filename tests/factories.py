"""Typed records for tests: every field a record needs, with plain defaults, so a test states only what it checks."""

from computematch.measure.records import (BaseModelRecord, DataQuality, DataRecord, EvalRecord, FinetuneRecord, Grading,
                                          GuessingBaseline, JudgeRecord)


def level(coverage, diversity, fpr, flops=None, problems=10) -> DataQuality:
    return DataQuality(coverage=coverage, diversity=diversity, verified_diversity=diversity * 0.8, fpr=fpr,
                       extraction_failure_rate=0.0, sample_accuracy=0.5, problems=problems, samples=problems,
                       flops=flops)


def data_record(coverage, diversity, fpr, flops, by_budget, by_difficulty, guessing=None, **fields) -> DataRecord:
    defaults = dict(coverage_at_1=by_budget["1"].coverage, samples_per_problem=len(by_budget),
                    mean_samples_per_problem=float(len(by_budget)),
                    samples_by_difficulty={level: float(len(by_budget)) for level in by_difficulty}, verified_diversity=diversity * 0.8, extraction_failure_rate=0.0,
                    sample_accuracy=0.5, correct_samples=10, parameters=100, variants={},
                    guessing_baseline=guessing or GuessingBaseline(coverage=0.05, by_difficulty={}), kept=10,
                    duplicates_dropped=0, dedup=True, grading=Grading(mode=None, by_mode={}), step_checks=None,
                    grader={"task": "arith", "version": 1})
    return DataRecord(coverage=coverage, diversity=diversity, fpr=fpr, flops=flops, by_budget=by_budget,
                      by_difficulty=by_difficulty, **{**defaults, **fields})


def eval_record(pass_at_1, greedy=None, majority=None, problems=600) -> EvalRecord:
    return EvalRecord(pass_at_1=pass_at_1, greedy=pass_at_1 if greedy is None else greedy, majority=majority or {},
                      problems=problems, by_difficulty={}, by_grading={}, grading=None, samples=4)


def base_record(non_embedding, pretrain_steps=None) -> BaseModelRecord:
    return BaseModelRecord(parameters={"non_embedding": non_embedding, "total": non_embedding * 2},
                           val_greedy_accuracy=0.5, val_greedy_by_difficulty={}, final_loss=None,
                           pretrain_steps=pretrain_steps, pretrain_seed=None, stop_at_accuracy=None,
                           weights_sha256="0" * 64, seconds=1.0)


def finetune_record(trained=True, training_flops=None, trained_tokens=1000) -> FinetuneRecord:
    return FinetuneRecord(trained=trained, val_greedy_accuracy=0.5, processes=1, global_batch=8, checkpoint_step=10,
                          examples=10, trained_tokens=trained_tokens,
                          training_flops=training_flops or {"non_embedding": 6e9, "total": 7e9}, seconds=1.0,
                          final_train_loss=0.1)


def judge_record(**fields) -> JudgeRecord:
    return JudgeRecord(**fields)
