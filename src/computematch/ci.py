"""Pipeline reruns in CI: pull data and run-cache from the DVC remote, `dvc repro` the study the checkout's params
describe, push outputs and run-cache back, and report in Markdown what changed against a base revision.

    computematch ci-rerun --base origin/main --report ci-report.md   # pull → repro → push → report
    computematch ci-report --base origin/main                        # the report alone, of the workspace as it is

The workflow (.github/workflows/pipeline-rerun.yml) only calls these and posts the report; every step is DVC's own
command, so a rerun here, in GitHub Actions or in GitLab CI is the same. A remote that cannot be reached, or that
lacks an object the checkout needs, stops the rerun with one line naming what failed; pushing never deletes
anything on the remote, so what was pushed before stays.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from computematch.errors import UserError

HEADLINE = Path("metrics/headline.json")
PLOTS = Path("metrics/plots")
RAN = re.compile(r"^Running stage '([^']+)'", re.M)
RESTORED = re.compile(r"^Stage '([^']+)' is cached - skipping run", re.M)
UNCHANGED = re.compile(r"^Stage '([^']+)' didn't change, skipping", re.M)


class RerunError(UserError):
    """A DVC step of the rerun failed: the remote is unreachable, lacks an object, or a stage failed."""


def dvc_executable() -> str:
    """The `dvc` of this environment (beside the Python running computematch), else the one on PATH."""
    beside = Path(sys.executable).parent / "dvc"
    return str(beside) if beside.exists() else (shutil.which("dvc") or "dvc")


def one_line(output: str) -> str:
    """DVC's own error in one line: its last 'ERROR:' line (else its last line) with the targets it lists after a
    colon (what is missing), whitespace collapsed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("ERROR")]
    if not starts:
        return re.sub(r"\s+", " ", (lines or ["no output"])[-1])[:400]
    text, following = lines[starts[-1]].removeprefix("ERROR:").strip(), lines[starts[-1] + 1:]
    if text.endswith(":"):
        listed = [line for line in following if not line.startswith(("Is your", "<http", "Having any"))]
        text = f"{text} {', '.join(listed[:3])}{', ...' if len(listed) > 3 else ''}"
    return re.sub(r"\s+", " ", text)[:400]


def dvc(*args: str, cwd: Path | None = None, check: bool = True) -> str:
    """Run one DVC command; its output (stdout and stderr). A failure is a RerunError naming the command."""
    result = subprocess.run([dvc_executable(), *args], cwd=cwd, capture_output=True, text=True)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        raise RerunError(f"`dvc {' '.join(args)}` failed: {one_line(output)}")
    return output


def git_show(revision: str, path: Path, cwd: Path | None = None) -> str | None:
    result = subprocess.run(["git", "show", f"{revision}:{path.as_posix()}"], cwd=cwd, capture_output=True, text=True)
    return result.stdout if result.returncode == 0 else None


@dataclass(frozen=True)
class StageLog:
    """What `dvc repro` did, from its own output: stages run, restored from the run-cache, or unchanged."""

    ran: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, output: str) -> "StageLog":
        return cls(RAN.findall(output), RESTORED.findall(output), UNCHANGED.findall(output))


def verdict_changes(base: dict | None, head: dict | None) -> list[tuple[str, str, str]]:
    """(comparison, verdict at base, verdict now) for every comparison whose verdict differs."""
    before, after = (base or {}).get("verdict", {}), (head or {}).get("verdict", {})
    return [(name, before.get(name, "—"), after.get(name, "—")) for name in dict.fromkeys([*before, *after])
            if before.get(name) != after.get(name)]


def render_ci_report(base: str, params_md: str, metrics_md: str, verdicts: list[tuple[str, str, str]],
                     stages: StageLog | None, plots: list[Path]) -> str:
    """The pull request's comment: stages, params diff, headline metrics diff, changed verdicts, plots."""
    lines = [f"# computematch: the study rerun against `{base}`", ""]
    if stages is not None:
        lines += ["## Stages", "",
                  f"Ran {len(stages.ran)}: {', '.join(f'`{s}`' for s in stages.ran) or 'none'}.",
                  f"Restored from the remote's run-cache: {len(stages.restored)}"
                  + (f" ({', '.join(f'`{s}`' for s in stages.restored)})" if stages.restored else "") + ".",
                  f"Unchanged: {len(stages.unchanged)}.", ""]
    lines += [f"## Params (`dvc params diff {base} --md`)", "", params_md.strip() or "No param changed.", "",
              f"## Headline metrics (`dvc metrics diff {base} --md`)", "", metrics_md.strip() or "No metric changed.",
              "", "## Verdicts", ""]
    if verdicts:
        lines += [f"| comparison | `{base}` | this change |", "|---|---|---|",
                  *(f"| {name} | {before} | {after} |" for name, before, after in verdicts)]
    else:
        lines.append("No verdict changed.")
    lines += ["", "## Plots", "", *(f"![{plot.stem}]({plot.as_posix()})" for plot in plots), ""]
    return "\n".join(lines)


def ci_report(base: str, stages: StageLog | None = None, cwd: Path | None = None) -> str:
    """The report of the workspace against `base`: DVC's params and metrics diffs, the verdicts that changed."""
    root = Path(cwd or ".")
    params_md = dvc("params", "diff", base, "--md", cwd=cwd)
    metrics_md = dvc("metrics", "diff", base, "--md", cwd=cwd)
    base_headline = git_show(base, HEADLINE, cwd)
    head = json.loads((root / HEADLINE).read_text()) if (root / HEADLINE).exists() else None
    verdicts = verdict_changes(json.loads(base_headline) if base_headline else None, head)
    plots = sorted(path.relative_to(root) for path in (root / PLOTS).glob("*.png"))
    return render_ci_report(base, params_md, metrics_md, verdicts, stages, plots)


def commit_results(cwd: Path | None = None, message: str = "computematch ci-rerun: dvc.lock and metrics") -> bool:
    """Commit the rerun's dvc.lock and metrics files (False when nothing changed). With them on the branch, a later
    checkout pulls the rerun's outputs instead of rerunning: the stages here write `cache: false` metrics files, which
    DVC's run-cache does not restore, so the lock is what finds the pushed outputs."""
    subprocess.run(["git", "add", "dvc.lock", "metrics"], cwd=cwd, check=True, capture_output=True)
    if subprocess.run(["git", "diff", "--cached", "--quiet"], cwd=cwd).returncode == 0:
        return False
    result = subprocess.run(["git", "commit", "-qm", message], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RerunError(f"`git commit` failed: {one_line(result.stdout + result.stderr)}")
    return True


def ci_rerun(base: str, allow_missing: bool = False, push: bool = True, commit: bool = False,
             cwd: Path | None = None) -> str:
    """Pull → repro → push → report (→ commit dvc.lock and metrics). `allow_missing`: objects the remote lacks are
    recomputed instead of failing."""
    dvc("pull", "--run-cache", *(["--allow-missing"] if allow_missing else []), cwd=cwd)
    stages = StageLog.parse(dvc("repro", "--pull", cwd=cwd))
    if push:
        dvc("push", "--run-cache", cwd=cwd)
    report = ci_report(base, stages, cwd)
    if commit:
        commit_results(cwd)
    return report
