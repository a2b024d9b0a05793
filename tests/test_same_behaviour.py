"""The same seeds give the same rollouts, evaluation numbers and demo transcript as before the episode runner
was made one (``tests/data/same_behaviour.json``, written by ``tests/same_behaviour.py`` on the code before).
New record fields may appear; no recorded value may change. One change was made on purpose: over BM25, a real
engine, the env draws no noise (``noise_p`` 0, no search ``noisy``); every other value stayed as recorded."""
import json

import pytest

pytest.importorskip("torch")
from same_behaviour import EXPECTED, demo, evaluation, rollouts, scripted_rollouts  # noqa: E402


def contains(expected, actual, where="") -> list[str]:
    """Where ``actual`` differs from ``expected`` (dict keys only ``actual`` has are allowed)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return [d for k in expected for d in (contains(expected[k], actual[k], f"{where}.{k}") if k in actual
                                              else [f"{where}.{k} missing"])]
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [d for i, (e, a) in enumerate(zip(expected, actual)) for d in contains(e, a, f"{where}[{i}]")]
    return [] if expected == actual else [f"{where}: expected {expected!r:.200}, got {actual!r:.200}"]


@pytest.fixture(scope="module")
def expected():
    return json.loads(EXPECTED.read_text())


@pytest.mark.parametrize("name, run", [("rollouts", rollouts), ("scripted_rollouts", scripted_rollouts),
                                       ("evaluation", evaluation), ("demo", demo)])
def test_same_seeds_same_episodes(expected, name, run):
    actual = json.loads(json.dumps(run(), default=float))
    assert contains(expected[name], actual) == []
