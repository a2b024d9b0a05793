"""The README's examples and figures, checked against the program instead of remembered.

- every shell example of *When something goes wrong* is run; its first and last output lines, its line count
  and its exit code must be what the README shows;
- the scripted policy's figures are rerun: ``benchmarks/RESULTS.md`` owns their table, the README quotes it;
- every README table row closes its code spans (a stray backtick breaks the whole row's rendering).
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")
SCRIPTED_TABLE = "### The scripted policy on the shipped sets"


def section(text: str, heading: str) -> str:
    """The text under the heading that starts with ``heading``, up to the next heading of any level."""
    start = text.index(heading)
    end = re.search(r"^#{1,6} ", text[start + len(heading):], flags=re.MULTILINE)
    return text[start:start + len(heading) + end.start()] if end else text[start:]


def shell_examples(text: str) -> list[tuple[str, list[str]]]:
    """``(command, output lines)`` for each ``$ command`` line of the section's code blocks."""
    examples = []
    for block in re.findall(r"^```text\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:], []))
            elif examples:
                examples[-1][1].append(line)
    return examples


EXAMPLES = shell_examples(section(README, "### When something goes wrong"))


def test_the_section_has_its_examples():
    assert len(EXAMPLES) >= 3 and all(output for _, output in EXAMPLES), EXAMPLES


@pytest.mark.parametrize("command, shown", EXAMPLES, ids=[command for command, _ in EXAMPLES])
def test_each_example_prints_what_the_readme_shows(command, shown, tmp_path):
    args = shlex.split(command)
    assert args[0] == "zerosearch", command
    # offline, with an empty hub cache: a machine that holds the example's model still shows the README's error
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path),
               HF_HUB_CACHE=str(tmp_path / "hub"))
    result = subprocess.run([sys.executable, "-m", "agents.cli", *args[1:]], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT, timeout=300)
    lines = result.stdout.splitlines()
    assert result.returncode == 2, result.stdout
    assert lines[:1] == shown[:1], f"first line of `{command}`"
    assert lines[-1:] == shown[-1:] and len(lines) == len(shown), f"output of `{command}`:\n{result.stdout}"


def test_table_rows_close_their_code_spans():
    rows = [line for line in README.splitlines() if line.startswith("|")]
    assert rows and [row for row in rows if row.count("`") % 2] == []


def scripted_eval(names: list[str], limit: int | None, backend) -> dict:
    """``zerosearch eval --policy scripted --backend bm25 --datasets NAMES [--limit N]`` (no model: the figures
    are exact), as ``{set: (n, EM %, cover-EM %, F1 %)}`` formatted as the tables print them."""
    from agents.evaluate import Decoding, build_policy, evaluate_policy, load_eval_sets

    result = evaluate_policy(build_policy("scripted", Decoding()), load_eval_sets(names, limit), backend,
                             progress=False)
    return {name: (str(m["n"]), *(f"{100 * m[k]:.1f}" for k in ("em", "cover_em", "f1")))
            for name, m in result["sets"].items()}


@pytest.fixture(scope="module")
def bm25():
    from zerosearch_gym import make_backend

    return make_backend("bm25")  # one index for both evaluations


@pytest.fixture(scope="module")
def scripted(bm25):
    return scripted_eval(["sample:in-wiki", "wiki:dev"], None, bm25)


def test_results_md_owns_the_scripted_figures(scripted, bm25):
    table = section(RESULTS, SCRIPTED_TABLE)
    for name, figures in scripted.items():
        assert f"| {name} | {' | '.join(figures)} |" in table, (name, figures)
    first_24 = scripted_eval(["sample:in-wiki", "sample"], 24, bm25)  # the scripted row of the baselines table
    row = " | ".join(figure for name in ("sample:in-wiki", "sample") for figure in first_24[name][1:])
    assert re.search(rf"^\| scripted .* \| {re.escape(row)} \| 1\.00 \| 0 \|$", RESULTS, re.MULTILINE), row


def test_the_readme_quotes_them_and_links_the_table(scripted):
    _, em, _, f1 = scripted["sample:in-wiki"]
    _, dev_em, _, dev_f1 = scripted["wiki:dev"]
    text = " ".join(README.split())
    quoted = set(re.findall(r"EM (\d+\.\d) / F1 (\d+\.\d)", text))
    assert quoted == {(em, f1), (dev_em, dev_f1)}, "every 'EM x / F1 y' the README quotes is one of these reruns"
    assert text.count("`benchmarks/RESULTS.md` (*Evaluation*)") >= 2
