"""The rules of ARCHITECTURE.md, checked on the code: the agents/ wings never import each other, nothing in
zerosearch_gym imports agents, agents uses no private zerosearch_gym module, files and functions stay small."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WINGS = ("train", "evaluate", "simulator", "integrations")
WIDE_OK: set[str] = set()  # "path:function" exceptions, with their reason (none today)
# the one crossing: evaluating a training run that was never exported rebuilds it with train's run loader
CROSSING_OK = {("agents/evaluate/policies.py", "agents.train.export"),
               ("agents/evaluate/policies.py", "agents.train.export.rebuild_policy")}


def imports(path: Path) -> set[str]:
    """The absolute module names ``path`` imports (relative imports resolved against its package)."""
    package = path.relative_to(ROOT).with_suffix("").parts[:-1]
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names |= {module} | {f"{module}.{a.name}" for a in node.names}
    return names


def sources(folder: str):
    return sorted((ROOT / folder).rglob("*.py"))


def wing(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "agents" and parts[1] in WINGS else None


@pytest.mark.parametrize("path", sources("agents"), ids=lambda p: str(p.relative_to(ROOT)))
def test_agents_wings_stay_apart_and_use_the_public_env_api(path):
    own = wing(".".join(path.relative_to(ROOT).with_suffix("").parts))
    names = imports(path)
    where = str(path.relative_to(ROOT))
    crossing = sorted(n for n in names if wing(n) and wing(n) != own and (where, n) not in CROSSING_OK)
    assert not crossing or path.name in ("cli.py", "train_command.py") and own is None, crossing
    private = sorted(n for n in names if n.startswith("zerosearch_gym") and any(
        p.startswith("_") and p != "__init__" for p in n.split(".")))
    assert not private, private


@pytest.mark.parametrize("path", sources("zerosearch_gym"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_env_never_imports_agents(path):
    assert not [n for n in imports(path) if n.split(".")[0] == "agents"]


@pytest.mark.parametrize("folder", ["zerosearch_gym", "agents"])
def test_files_and_functions_stay_small(folder):
    big, wide = [], []
    for path in sources(folder):
        text = path.read_text()
        if text.count("\n") > 300:
            big.append(str(path.relative_to(ROOT)))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "__init__":
                a = node.args
                n = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) - (a.args[:1] != [] and a.args[0].arg in (
                    "self", "cls"))
                if (node.end_lineno - node.lineno + 1 > 60 or n > 8) and \
                        f"{path.relative_to(ROOT)}:{node.name}" not in WIDE_OK:
                    wide.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert big == [] and wide == []
