"""The newcomer path: `zerosearch demo` shows rewarded episodes, marks each search useful/noisy, and sums up."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def demo(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "agents.cli", "demo", *args], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=1200)


def summary(stdout: str) -> dict[str, str]:
    block = stdout.split("===== summary", 1)[1]
    return {line.split()[0]: line for line in block.strip().splitlines()}


def test_demo_shows_rewards_marks_and_a_summary():
    # BM25 is fast and real: 8 episodes at noise 0.5 make a rewarded episode near-certain, and no search noisy
    result = demo("--episodes", "8", "--backend", "bm25", "--dataset", "sample:in-wiki", "--seed", "0")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count("===== episode") == 8 and "[useful] documents requested" in out and "[noisy]" not in out
    rewards = [float(r) for r in re.findall(r"----- reward (\d\.\d+)", out)]
    assert len(rewards) == 8 and max(rewards) > 0
    lines = summary(out)
    useful, noisy = map(int, re.search(r"(\d+) useful, (\d+) noisy", lines["searches"]).groups())
    assert useful >= 8 and noisy == 0 and "a real engine writes no noisy documents" in lines["searches"]
    assert f"mean reward  {sum(rewards) / 8:.3f}" in lines["mean"]
    assert re.search(rf"{sum(r > 0 for r in rewards)} with a non-zero reward", lines["episodes"])


def test_demo_marks_useful_and_noisy_searches_of_a_simulator():
    """A simulator (a real OpenAI-compatible server on 127.0.0.1) gets both kinds of request at noise 0.5."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_servers import FakeServer

    with FakeServer() as server:
        result = demo("--episodes", "8", "--backend", f"openai:{server.url}", "--dataset", "sample:in-wiki")
    assert result.returncode == 0, result.stderr
    assert "[useful] documents requested" in result.stdout and "[noisy] documents requested" in result.stdout
    useful, noisy = map(int, re.search(r"(\d+) useful, (\d+) noisy", summary(result.stdout)["searches"]).groups())
    assert useful >= 1 and noisy >= 1 and {r["kind"] for r in server.requests} == {"useful", "noisy"}


@pytest.mark.slow
def test_demo_on_the_default_simulator():
    """The default backend: the offline SmolLM2 simulator writes the documents (a few minutes on 2 cores)."""
    result = demo("--episodes", "3")
    assert result.returncode == 0, result.stderr
    lines = summary(result.stdout)
    assert "searches" in lines and "hf:" in lines["backend"] and result.stdout.count("===== episode") == 3
