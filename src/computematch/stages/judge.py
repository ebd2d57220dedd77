"""Stage `judge`: an LLM judges the reasoning of a seeded random subset of each arm's kept solutions.

    computematch judge           # every world: metrics/judge/{wc,se}/world-W.json (judge.enabled: false writes just that)
    computematch judge --world 0 # world 0 only

Where the task has an exact step checker (arith) the judge's verdicts are also scored against it, which
says how far a judged FPR can be trusted; elsewhere (MATH) the judged FPR is the estimate, with a 95%
Wilson interval and its sample size. A reply without a parsable verdict is counted, never guessed.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from computematch import paths
from computematch.names import ARMS, MODEL_ROLES, world_name
from computematch.errors import ConfigError
from computematch.config import Decoding, JudgeConfig, ModelSpec, Params
from computematch.io import read_jsonl
from computematch.measure.records import JudgeRecord, write_record
from computematch.measure.intervals import wilson_interval
from computematch.prompting import prompt_renderer
from computematch.provenance import MODEL_LIBRARIES, environment
from computematch.runtime import apply_runtime
from computematch.sampling import Request, backend_session
from computematch.splits import read_split
from computematch.tracking import data_tags, stage_run

_VERDICT = re.compile(r"VERDICT:\s*\**\s*(INCORRECT|CORRECT)\b", re.IGNORECASE)


def parse_verdict(reply: str) -> bool | None:
    """True: the reasoning is right; False: it is not; None: no verdict (the last one stated counts)."""
    found = _VERDICT.findall(reply)
    return None if not found else found[-1].upper() == "CORRECT"


def fill(template: str, question: str, solution: str, answer: str) -> str:
    # str.replace, not str.format: LaTeX braces in MATH solutions must pass through untouched.
    return template.replace("{question}", question).replace("{solution}", solution).replace("{answer}", answer)


def judge_solutions(backend, template: str, items: list[dict], batch_size: int, render=lambda text: text,
                    max_new_tokens: int = 256) -> dict:
    """items: {question, solution, answer, steps_ok}; returns the judged FPR with its interval. Greedy replies."""
    verdicts, decoding = [], Decoding(temperature=0.0, max_new_tokens=max_new_tokens)
    for start in range(0, len(items), batch_size):
        batch = items[start: start + batch_size]
        replies = backend.generate([Request(f"judge-{start + i}", 0, render(fill(template, it["question"],
                                                                                it["solution"], it["answer"])))
                                    for i, it in enumerate(batch)], decoding)
        verdicts += [parse_verdict(reply.text) for reply in replies]
    judged = [(v, it) for v, it in zip(verdicts, items) if v is not None]
    flawed = sum(not v for v, _ in judged)
    result = {"sample_size": len(items), "judged": len(judged), "unparsable": len(items) - len(judged),
              "fpr": flawed / len(judged) if judged else None, "fpr_ci95": list(wilson_interval(flawed, len(judged)))}
    exact = [(v, it["steps_ok"]) for v, it in judged if it["steps_ok"] is not None]
    if exact:  # the task's exact checker grades the judge
        result["agreement_with_step_checker"] = sum(v == ok for v, ok in exact) / len(exact)
        result["exact_fpr_on_judged"] = sum(not ok for _, ok in exact) / len(exact)
    return result


def judge_model_dir(params: Params, world: int) -> Path:
    model = params.judge.model
    if model in MODEL_ROLES:
        return paths.base_model_dir(model, world)
    from computematch.models import resolve_source

    return resolve_source(ModelSpec(role="judge", load=model))


def judged_items(config: JudgeConfig, arm: str, problems: dict, kept: list[dict]) -> list[dict]:
    """A seeded random subset of the kept solutions, with what the judge is shown and the exact verdict."""
    subset = random.Random(f"judge/{config.seed}/{arm}").sample(kept, min(config.sample_size, len(kept)))
    return [{"question": problems[r["problem_id"]].question, "solution": r["completion"],
             "answer": problems[r["problem_id"]].answer, "steps_ok": r.get("steps_ok")} for r in subset]


def judge_arm(params: Params, arm: str, world: int, backend, template: str, render) -> None:
    """One arm's kept solutions of one world, judged: its metrics file and MLflow run."""
    config, name = params.in_world(world).judge, f"judge@{arm}/{world_name(world)}"
    items = judged_items(config, arm, {p.id: p for p in read_split("train")}, read_jsonl(paths.sft_file(arm, world)))
    with stage_run(params, name, tags=data_tags(world, arm)) as tracker:
        tracker.log_sections(judge=config, ray=params.ray)
        result = {"enabled": True, "judge_model": config.model,
                  **judge_solutions(backend, template, items, config.batch_size, render, config.max_new_tokens)}
        write_record(paths.metrics_file("judge", arm, world),
                     JudgeRecord(**result, environment=environment(params.runtime.threads, config.backend, MODEL_LIBRARIES)))
        tracker.log_metrics({f"judged_{k}": v for k, v in result.items() if k != "enabled"})
    fpr = "n/a" if result["fpr"] is None else f"{result['fpr']:.3f}"
    print(f"{name}: judged FPR {fpr} (95% CI {result['fpr_ci95'][0]:.3f}-{result['fpr_ci95'][1]:.3f}, "
          f"n={result['judged']}, unparsable {result['unparsable']})")


def main(params: Params, worlds: tuple[int, ...] = ()) -> None:
    """Both arms' judged FPR in every world of the study (or `worlds`), one after another."""
    for world in dict.fromkeys(worlds or params.study.worlds):
        judge_world(params, world)


def judge_world(params: Params, world: int) -> None:
    config = params.judge
    if not config.enabled:
        for arm in ARMS:
            write_record(paths.metrics_file("judge", arm, world), JudgeRecord(enabled=False))
        print(f"judge@{world_name(world)}: disabled (judge.enabled: false)")
        return
    template_path = Path(config.prompt_file)
    if not template_path.exists():
        raise ConfigError(f"judge.prompt_file: {template_path} does not exist")
    model_dir = judge_model_dir(params, world)
    with backend_session(config.backend, model_dir, apply_runtime(params.runtime), (), params.runtime,
                         params.ray) as backend:
        for arm in ARMS:
            judge_arm(params, arm, world, backend, template_path.read_text(), prompt_renderer(params.task, model_dir))
