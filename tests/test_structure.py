"""The shape of the code: one place for each thing, stages over pure cores, defaults in one place, no outside refs."""

import ast
import dataclasses
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from computematch import config
from computematch import names as study_names

REPO = Path(__file__).resolve().parents[1]
STAGES = sorted((REPO / "src" / "computematch" / "stages").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("path", [p for p in STAGES if p.name != "__init__.py"], ids=lambda p: p.name)
def test_a_stage_imports_the_core_never_another_stage(path):
    stages = {f"computematch.stages.{p.stem}" for p in STAGES if p.name != "__init__.py"} | {"computematch.stages"}
    assert not (_imported_modules(path) & stages), f"{path.name} imports a stage module"


def test_nothing_outside_the_stages_imports_a_stage_except_the_cli_and_benchmarks():
    for path in (REPO / "src" / "computematch").rglob("*.py"):
        if "stages" in path.parts or path.name == "cli.py":
            continue
        assert not any(name.startswith("computematch.stages") for name in _imported_modules(path)), path


@pytest.mark.parametrize("path", [p for p in STAGES if p.name != "__init__.py"], ids=lambda p: p.name)
def test_every_stage_main_is_at_most_30_lines(path):
    tree = ast.parse(path.read_text())
    [main] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "main"]
    assert main.end_lineno - main.lineno + 1 <= 30, f"{path.name}: main() has {main.end_lineno - main.lineno + 1} lines"


# A setting of the built-in study that another configuration must not inherit: the replication pool holds worlds
# of the built-in recipe, so a configuration without the key (a Gemma study, say) has none.
ONLY_IN_PARAMS_YAML = {("study", "replication_pool")}


def test_dataclass_defaults_equal_params_yaml():
    """params.yaml is the documented default: the dataclass defaults must not drift from it."""
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, cls in config.SECTIONS.items():
        defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
        for key, value in (raw.get(section) or {}).items():
            if key in defaults and (section, key) not in ONLY_IN_PARAMS_YAML:
                default = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
                assert default == value, f"{section}.{key}: dataclass default {default!r}, params.yaml {value!r}"


def test_no_file_in_the_repository_refers_to_a_document_outside_it():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    outside = re.compile(r"\.\./shared|\b(CALIBRATION|STACK|PAPER|STYLE)\.md\b")
    offenders = [name for name in tracked if not name.startswith(".ci/") and (REPO / name).is_file()
                 and name.endswith((".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg"))
                 and outside.search((REPO / name).read_text(errors="replace"))]
    assert offenders == [], offenders


def test_the_study_names_live_in_one_place():
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    names = {key: value for entry in dvc["vars"] for key, value in entry.items()}
    assert tuple(names["roles"]) == study_names.MODEL_ROLES and tuple(names["arms"]) == study_names.ARMS
    assert study_names.PARADIGMS[("se", "wc")] == "weak-to-strong improvement"
    assert all(arm in study_names.DATA_SOURCES and data in study_names.DATA_SOURCES for arm, data, _ in study_names.CONTROLS.values())
    assert study_names.parse_model_name("student-wc-verified") == ("student", "wc-verified")
    assert study_names.parse_model_name(study_names.cell_name("se", "wc")) == ("se", "wc")
    assert study_names.parse_model_name("wc") == ("wc", None)
    with pytest.raises(study_names.ConfigError, match="not a base model"):
        study_names.parse_model_name("se-teacher-0")


def test_outputs_name_what_then_the_world_so_a_cell_depends_on_one_folder_per_input():
    from computematch import paths

    assert paths.base_model_dir("se", 2) == Path("models/base/se/world-2")
    assert paths.samples_file("wc", 0) == Path("data/sample/wc/world-0.jsonl")
    assert paths.sft_file("wc-verified", 1) == Path("data/filter/wc-verified/world-1.jsonl")
    assert paths.finetuned_model_dir("se-wc-verified", 1, 2) == Path("models/ft/se-wc-verified/world-1/seed-2")
    assert paths.metrics_file("eval", "se-wc", 0, 0) == Path("metrics/eval/se-wc/world-0/seed-0.json")
    assert paths.metrics_file("eval", "wc", 3) == Path("metrics/eval/wc/world-3.json")
    assert paths.metrics_file("sft", "wc-verified", 0) == Path("metrics/sft/wc-verified/world-0.json")
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    finetune = dvc["finetune"]["do"]  # one stage per model, both data sources
    assert [out for out in finetune["outs"] if isinstance(out, str)] == ["models/ft/${item}-wc", "models/ft/${item}-se"]
    assert "models/base/${item}" in finetune["deps"] and {"data/filter/wc", "data/filter/se"} <= set(finetune["deps"])
    assert [out for out in dvc["control"]["outs"] if isinstance(out, str)] == ["models/ft/${item.model}-${item.data}"]
    assert "models/base/${item.model}" in dvc["control"]["deps"] and "data/filter/${item.data}" in dvc["control"]["deps"]
    for body in (finetune, dvc["evaluate"]["do"], dvc["control"], dvc["evaluate-control"]):
        assert {"study.worlds", "study.seeds"} <= set(body["params"])


def test_a_world_is_every_seed_of_the_study_shifted_by_its_number():
    params = config.parse_params(yaml.safe_load((REPO / "params.yaml").read_text()))
    world = params.in_world(2)
    assert (world.pretrain.seed, world.sampling.seed, world.evaluation.seed, world.judge.seed) == (
        params.pretrain.seed + 2, params.sampling.seed + 2, params.evaluation.seed + 2, params.judge.seed + 2)
    assert params.in_world(0) == params and study_names.world_seed(0, 3) == 3


def test_every_step_is_one_stage_that_holds_every_world():
    """A stage process costs seconds of imports, so no stage is generated per world (90+ processes at 10 worlds):
    each step holds every world and lists study.worlds, and its outputs are one folder per input, whatever the
    worlds (a new world recomputes only its own work through the stores: tests/test_pipeline.py)."""
    dvc = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    for stage, body in dvc.items():
        generated = body.get("foreach") or body.get("matrix", {})
        assert "study.worlds" not in str(generated), stage
        if stage not in ("prepare", "report"):
            assert "study.worlds" in body.get("do", body)["params"], stage
        outs = [next(iter(out)) if isinstance(out, dict) else out for out in body.get("do", body).get("outs", [])]
        assert not any("world" in out for out in outs), (stage, outs)


def import_graph(package: Path, name: str = "computematch") -> dict[str, set[str]]:
    """module -> the package's modules it imports, function-level imports counted (ast.walk sees every one)."""
    modules = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return {module: {imported for imported in _imported_modules(path) if imported in modules and imported != module}
            for module, path in modules.items() if module.startswith(name)}


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, 1972): each holds a cycle."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return components


def test_the_import_cycle_finder_finds_a_cycle_hidden_in_a_function(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "b.py").write_text("def f():\n    from pkg import c\n")
    (package / "c.py").write_text("import pkg.a\nimport torch\n")
    assert import_cycles(import_graph(package, "pkg")) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
    (package / "c.py").write_text("import torch\n")
    assert import_cycles(import_graph(package, "pkg")) == []


def test_the_package_has_no_import_cycles_counting_imports_inside_functions():
    assert import_cycles(import_graph(REPO / "src" / "computematch")) == []


# Modules that name, route, record or log results but compute none: a change to them changes no output, so no stage
# lists them among its deps (a rerun of every stage for a log message would cost the default study its 17 minutes).
# The record types are here too: a writer builds its record by name, so a change of fields changes the writer.
BOOKKEEPING = {"computematch", "computematch.cli", "computematch.config", "computematch.errors", "computematch.io",
               "computematch.names", "computematch.paths", "computematch.progress", "computematch.provenance",
               "computematch.tracking", "computematch.library_fields", "computematch.backends",
               "computematch.measure.codec", "computematch.measure.records", "computematch.measure.study_records",
               "computematch.measure"}


def _covered(module_path: str, deps: list[str]) -> bool:
    return any(module_path == dep or module_path.startswith(dep.rstrip("/") + "/") for dep in deps)


def test_every_module_a_stage_imports_is_among_its_deps():
    """A stage's deps list every module its code reaches (transitively, function-level imports counted) except
    bookkeeping: so a file moved or split in a refactor cannot drop out of the deps that rerun the stage."""
    package = REPO / "src" / "computematch"
    graph, stages = import_graph(package), yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    lacking = {}
    for stage, body in stages.items():
        body = body.get("do", body)
        command = body["cmd"].split()[1]
        reached, todo = set(), [f"computematch.stages.{command}"]
        while todo:
            module = todo.pop()
            if module not in reached:
                reached.add(module)
                todo.extend(graph.get(module, ()))
        for module in sorted(m for m in reached if m not in BOOKKEEPING and not m.startswith("computematch.config.")):
            path = "src/" + module.replace(".", "/")
            path = path + "/__init__.py" if (REPO / path).is_dir() else path + ".py"
            if not _covered(path, body["deps"]):
                lacking.setdefault(stage, []).append(path)
    assert not lacking, f"stages whose deps lack a module they reach: {lacking}"


def test_dvc_compares_only_the_headline_and_every_other_metrics_file_is_a_plain_output():
    """`dvc exp show` and `dvc metrics diff` read `metrics:` files: only metrics/headline.json is one, so an
    experiment's table has its headline columns, not every number of every stage (the detail stays in the typed files,
    `dvc metrics show <file>` away)."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    declared = [entry for body in stages.values() for entry in body.get("do", body).get("metrics", [])]
    assert [next(iter(entry)) if isinstance(entry, dict) else entry for entry in declared] == ["metrics/headline.json"]
    detail = [next(iter(entry)) for body in stages.values() for entry in body.get("do", body).get("outs", [])
              if isinstance(entry, dict) and next(iter(entry)).startswith("metrics/")]
    assert "metrics/study.json" in detail and any(path.startswith("metrics/data/") for path in detail)


def test_no_module_is_over_400_lines():
    """One job per module: a module that grows past 400 lines is doing two."""
    long = {path.relative_to(REPO).as_posix(): n for path in (REPO / "src" / "computematch").rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 400}
    assert not long, f"split these modules: {long}"


def test_every_name_the_benchmarks_import_from_the_package_exists():
    """Benchmarks run by hand, not in CI: a refactor that moves a function must not leave them broken."""
    import importlib

    missing = []
    for path in sorted((REPO / "benchmarks").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("computematch"):
                module = importlib.import_module(node.module)
                missing += [f"{path.name}: {node.module}.{alias.name}" for alias in node.names
                            if not hasattr(module, alias.name)  # a name, or a submodule of a package
                            and not (hasattr(module, "__path__")
                                     and importlib.util.find_spec(f"{node.module}.{alias.name}") is not None)]
    assert not missing
