"""The study's verdicts: WC − SE gains over seeds, with 95% intervals, for each setup and each control.

    summary = study_summary(evals, finetunes, params.study)   # what metrics/study.json holds

A gain is paired: for each seed, the pass@1 of a model finetuned on WC data minus the same model finetuned on SE
data with the same seed. Its mean over seeds and a Student-t 95% interval (metrics.seed_interval) decide the
verdict: "agrees" only when the interval excludes 0 in the paper's direction, "disagrees" only when it excludes 0
in the other, "tie" otherwise. Nothing here is tuned: it only reads the evaluations.
"""

from __future__ import annotations

from computematch.config import CONTROLS, SETUPS, StudyConfig, cell_name
from computematch.metrics import seed_interval, seed_verdict

METRIC = "pass@1"


def compare(evals: dict, finetunes: dict, role: str, wc_data: str, se_data: str, seeds, expected_sign: int) -> dict:
    """Model `role` finetuned on `wc_data` vs on `se_data`, paired by seed."""
    rows = []
    for seed in seeds:
        wc, se = (evals.get(cell_name(role, data, seed), {}).get(METRIC) for data in (wc_data, se_data))
        if wc is not None and se is not None:
            rows.append((seed, wc, se))
    untrained = sorted({data for seed in seeds for data in (wc_data, se_data)
                        if finetunes.get(cell_name(role, data, seed), {}).get("trained") is False})
    result = {"model": role, "wc_data": wc_data, "se_data": se_data, "expected_sign": expected_sign,
              "seeds": [seed for seed, _, _ in rows], "wc_by_seed": [wc for _, wc, _ in rows],
              "se_by_seed": [se for _, _, se in rows]}
    if not rows:
        return {**result, "verdict": "not evaluated"}
    gain = seed_interval([wc - se for _, wc, se in rows])
    se_mean = seed_interval(result["se_by_seed"])["mean"]
    verdict = (f"no verdict: not trained on {' and '.join(untrained)} data (no right answers)" if untrained
               else seed_verdict(gain, expected_sign))
    return {**result, "wc": seed_interval(result["wc_by_seed"]), "se": seed_interval(result["se_by_seed"]),
            "gain": gain, "relative_gain": gain["mean"] / se_mean if se_mean else None, "verdict": verdict}


def study_summary(evals: dict, finetunes: dict, study: StudyConfig) -> dict:
    """Every setup (the paper's Table 1) and every control that ran, each a paired comparison over seeds."""
    setups = {setup: compare(evals, finetunes, role, "wc", "se", study.seeds, +1) for setup, role, *_ in SETUPS}
    controls = {}
    for control, (wc_data, se_data, sign) in CONTROLS.items():
        ran = wc_data in study.controls and (se_data == "se" or se_data in study.controls)
        if ran:
            controls[control] = {role: compare(evals, finetunes, role, wc_data, se_data, study.seeds, sign)
                                 for role in study.control_models}
    return {"metric": METRIC, "seeds": list(study.seeds), "confidence": 0.95,
            "base": {role: evals.get(role, {}).get(METRIC) for _, role, *_ in SETUPS},
            "setups": setups, "controls": controls,
            "controls_not_run": [c for c in CONTROLS if c not in controls]}
