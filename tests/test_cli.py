"""The ``zerosearch`` command: a user's mistakes print one clear line (exit code 2), ``--debug`` the traceback."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import COMMANDS, user_message
from zerosearch_gym import OfflineError, UsageError, ZeroSearchError
from zerosearch_gym.errors import hub_access, is_connection_failure

ROOT = Path(__file__).resolve().parents[1]


def zerosearch(*args: str, offline: bool = True) -> subprocess.CompletedProcess:
    """Run ``python -m agents.cli ARGS`` from this checkout, as a user would run ``zerosearch ARGS``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1" if offline else "0")
    return subprocess.run([sys.executable, "-m", "agents.cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    """The stderr lines that are not progress notes ("[demo] …", "[zerosearch] …")."""
    return [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("[")]


@pytest.mark.parametrize("args,expected", [
    (["trian"], "unknown command 'trian'; did you mean 'train'?"),
    (["dmeo"], "unknown command 'dmeo'; did you mean 'demo'?"),
    (["demo", "--backend", "nonsense"], "zerosearch demo: error: unknown backend kind 'nonsense'"),
    (["demo", "--dataset", "missing.jsonl"], "zerosearch demo: error: expected an existing QA dataset file, "
                                             "got 'missing.jsonl'"),
    # train: checked before the policy loads (its "Loading weights" bar would be a second line)
    (["train", "--backend", "nonsense"], "zerosearch train: error: unknown backend kind 'nonsense'"),
    (["train", "--backend", "hf?max_new_tokens=many"], "expected max_new_tokens to be int, got 'many'"),
    (["train", "--noise-end", "2"], "expected --noise-end in [0, 1], got 2.0"),
    (["demo", "--episodes", "0"], "zerosearch demo: error: expected --episodes >= 1, got 0"),
    (["demo", "--noise", "2"], "zerosearch demo: error: expected --noise in [0, 1], got 2.0"),
    (["demo", "--backend", "hf:?max_new_tokens=12&colour=red"], "zerosearch demo: error:"),
    (["demo", "--dataset", "nobody/not-a-cached-dataset"], "this machine is offline (HF_HUB_OFFLINE=1) and the "
     "dataset 'nobody/not-a-cached-dataset' is neither a local folder nor in the local cache; pass a local folder "
     "or pre-download it with `hf download nobody/not-a-cached-dataset --repo-type dataset`"),
    # view, eval, ask and simulator: the same one line, from the same place (agents/cli.py)
    (["view", "missing.jsonl"], "zerosearch view: error: expected an episodes JSONL file, got 'missing.jsonl' "
                                "(no such file)"),
    (["eval", "--datasets", "missing.jsonl"], "zerosearch eval: error: --datasets 'missing.jsonl': expected an "
                                              "existing QA dataset file, got 'missing.jsonl'"),
    (["eval", "--backend", "nonsense:x"], "zerosearch eval: error: --backend 'nonsense:x': unknown backend kind"),
    (["eval", "--max-new-tokens", "0"], "zerosearch eval: error: expected --max-new-tokens >= 1"),
    (["ask", "  "], "zerosearch ask: error: argument question: expected 1 to 2000 characters, got 0"),
    (["simulator", "build-data", "--out", "rows.csv"], "zerosearch simulator: error: expected --out ending in "
                                                       ".jsonl or .parquet, got 'rows.csv'"),
    (["simulator", "build-data", "--label", "judge", "--out", "x.jsonl"], "zerosearch simulator: error: expected "
                                                                          "--judge openai:URL with --label judge"),
    (["simulator", "build-data", "--label", "judge", "--judge", "http://127.0.0.1:1/v1", "--out", "x.jsonl"],
     "zerosearch simulator: error: expected a judge spec openai:http://host:port/v1[?model=NAME], got "
     "'http://127.0.0.1:1/v1'"),
    (["simulator", "nope"], "zerosearch simulator: error: unknown subcommand 'nope'; expected one of build-data"),
])
def test_mistakes_print_one_clear_line(args, expected):
    result = zerosearch(*args)
    lines = error_lines(result)
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_uncached_hub_model_says_how_to_get_it():
    result = zerosearch("demo", "--backend", "hf:nobody/not-a-cached-model")
    lines = error_lines(result)
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "this machine is offline" in lines[0] and "model 'nobody/not-a-cached-model'" in lines[0]
    assert "pass a local folder or pre-download it with `hf download nobody/not-a-cached-model`" in lines[0]


def test_debug_shows_the_traceback():
    result = zerosearch("demo", "--episodes", "0", "--debug")
    assert result.returncode == 1 and "Traceback" in result.stderr
    assert "UsageError: expected --episodes >= 1, got 0" in result.stderr


def test_usage_lists_every_command():
    help_run, bare = zerosearch("--help"), zerosearch()
    assert help_run.returncode == 0 and bare.returncode == 2
    for name in COMMANDS:
        assert f"  {name} " in help_run.stdout and f"  {name} " in bare.stderr
    demo_help = zerosearch("demo", "--help")
    assert demo_help.returncode == 0 and "--episodes" in demo_help.stdout


def test_bugs_keep_their_traceback():
    """Only errors a user can act on are shortened; a bug (TypeError, KeyError, …) stays loud."""
    assert user_message(KeyError("x")) is None and user_message(TypeError("x")) is None
    assert user_message(UsageError("expected --episodes >= 1,\n got 0")) == "expected --episodes >= 1, got 0"
    assert "pip install" in user_message(ModuleNotFoundError("No module named 'peft'", name="peft")) or \
        "extra" in user_message(ModuleNotFoundError("No module named 'peft'", name="peft"))
    assert user_message(RuntimeError("expected the package 'x' to be installed, got none; pip install x"))
    assert user_message(RuntimeError("CUDA error")) is None


def test_offline_hub_model_raises_offline_error(monkeypatch):
    """The model loader turns transformers' connection error into one actionable line."""
    from zerosearch_gym.llm import load_pretrained

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"model 'nobody/not-a-cached-model' is neither a local folder nor in "
                                           r"the local cache; .*`hf download nobody/not-a-cached-model`"):
        load_pretrained("nobody/not-a-cached-model")
    with pytest.raises(FileNotFoundError, match="expected a model folder with config.json at './no-such-folder'"):
        load_pretrained("./no-such-folder")


def test_offline_hub_dataset_raises_offline_error(monkeypatch):
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"`hf download nobody/not-a-dataset --repo-type dataset`") as caught:
        with hub_access("nobody/not-a-dataset", repo_type="dataset"):
            datasets.load_dataset("nobody/not-a-dataset", split="train")
    assert isinstance(caught.value, ZeroSearchError) and is_connection_failure(caught.value.__cause__)


def test_hub_access_passes_other_errors_through():
    with pytest.raises(KeyError):
        with hub_access("org/model"):
            raise KeyError("not a network problem")
    with pytest.raises(ValueError, match="bad config"):
        with hub_access("org/model"):
            raise ValueError("bad config")


def test_an_interrupt_ends_the_progress_bar_line_first(capsys):
    """A bar an interrupt left open (a loader's, not closed by its own code) ends its line before the message."""
    from tqdm import tqdm

    from agents.cli import end_progress_bars

    bar = tqdm(total=10, desc="eval x", mininterval=0)
    bar.update(3)
    assert not capsys.readouterr().err.endswith("\n")
    end_progress_bars()
    assert capsys.readouterr().err.endswith("\n") and bar.disable


def test_ctrl_c_during_eval_prints_interrupted_on_a_line_of_its_own(tmp_path):
    """SIGINT as the eval bar draws itself (tqdm is cut mid-line, after "eval sample:"): the bar's line ends,
    then the one message line, exit code 130."""
    # unbuffered: tqdm's \r-ended lines would otherwise reach the pipe only when the buffer fills
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "agents.cli", "eval", "--policy", "scripted", "--datasets",
                                "sample", "--output-dir", str(tmp_path)], stderr=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, env=env, cwd=ROOT,
                               # a job started in the background inherits SIGINT ignored: give the child the default
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = b""
    while b"eval sample:" not in seen and process.poll() is None:
        seen += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    stderr = (seen + process.communicate(timeout=60)[1]).decode()
    assert process.returncode == 130, stderr
    assert stderr.endswith("\nzerosearch eval: interrupted\n"), stderr[-300:]
