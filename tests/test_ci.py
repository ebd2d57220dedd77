"""The CI report's pieces, offline: DVC's output parsed, changed verdicts found, the Markdown laid out."""

from pathlib import Path

from computematch.ci import StageLog, one_line, render_ci_report, verdict_changes

REPRO = """Stage 'prepare' didn't change, skipping
Stage 'bootstrap' didn't change, skipping
Running stage 'sample@wc':
> computematch sample wc
Stage 'filter@se' is cached - skipping run, checking out outputs
Running stage 'report':
"""


def test_the_stage_log_is_read_from_dvcs_own_output():
    log = StageLog.parse(REPRO)
    assert log.ran == ["sample@wc", "report"] and log.restored == ["filter@se"]
    assert log.unchanged == ["prepare", "bootstrap"]


def test_a_dvc_failure_becomes_one_line():
    output = ("Collecting\nERROR: failed to pull data from the cloud - Checkout failed for following targets:\n"
              "data/prepare\nIs your cache up to date?\n")
    assert one_line(output) == ("failed to pull data from the cloud - Checkout failed for following targets: "
                                "data/prepare")
    assert one_line("") == "no output"


def test_only_changed_verdicts_are_reported_and_the_report_has_every_section():
    base = {"verdict": {"SE-LM": "tie", "WC-LM": "disagrees"}}
    head = {"verdict": {"SE-LM": "agrees", "WC-LM": "disagrees", "low-budget/se": "tie"}}
    changes = verdict_changes(base, head)
    assert changes == [("SE-LM", "tie", "agrees"), ("low-budget/se", "—", "tie")]
    text = render_ci_report("origin/main", "| Path | Param |", "", changes, StageLog.parse(REPRO),
                            [Path("metrics/plots/accuracy.png")])
    assert "Ran 2: `sample@wc`, `report`." in text and "Restored from the remote's run-cache: 1 (`filter@se`)." in text
    assert "| Path | Param |" in text and "No metric changed." in text
    assert "| SE-LM | tie | agrees |" in text and "![accuracy](metrics/plots/accuracy.png)" in text


def test_the_workflow_only_calls_the_projects_own_command_and_posts_its_report():
    import yaml

    workflow = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "pipeline-rerun.yml"
    steps = yaml.safe_load(workflow.read_text())["jobs"]["rerun"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    assert "computematch ci-rerun --base" in commands and "cml comment create" in commands and "ci-report.md" in commands
    assert "dvc repro" not in commands  # the logic lives in the project, where .ci/run tests it
    secrets = {value for step in steps for value in (step.get("env") or {}).values()}
    assert "${{ secrets.AWS_SECRET_ACCESS_KEY }}" in secrets and not any("AKIA" in str(v) for v in secrets)
