"""zerosearch view: the static episode page, opened and filtered in a real headless Chromium."""
import json
import shutil

import pytest

from agents.evaluate import Decoding, build_policy, evaluate_policy, load_eval_sets
from agents.evaluate.viewer import main, read_episodes, render_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\"> & <b>bold</b>?"


@pytest.fixture(scope="module")
def episodes_file(tmp_path_factory):
    """Episodes of a real scripted evaluation on BM25, plus one episode with a noisy search and a hostile
    question (as a training run against a simulator would write)."""
    out = tmp_path_factory.mktemp("eval")
    sets = load_eval_sets(["sample:in-wiki", "sample"], limit=20)
    evaluate_policy(build_policy("scripted", Decoding()), sets, "bm25", output_dir=out, progress=False)
    path = out / "episodes.jsonl"
    lines = [(out / "episodes" / name).read_text() for name in ("sample_in-wiki.jsonl", "sample.jsonl")]
    noisy = {"dataset": "train", "question": HOSTILE, "golden_answers": ["x"], "answer": "y", "reward": 0.0,
             "em": 0.0, "f1": 0.0, "searches": 1, "steps": [
                 {"action": "search", "think": "look it up", "query": "q", "noisy": True, "verify": "repaired",
                  "verify_resamples": 2, "documents": ["a noisy document </script>", "another"]},
                 {"action": "answer", "answer": "y", "f1": 0.0, "text": "<answer>y</answer>"}]}
    cut = out / "cut"  # a search past the last search turn: the env sends nothing (no query, no documents)
    evaluate_policy(build_policy("scripted", Decoding(max_turns=0)), load_eval_sets(["sample:in-wiki"], limit=1),
                    "bm25", output_dir=cut, progress=False)
    path.write_text("".join(lines) + json.dumps(noisy) + "\n" + (cut / "episodes" / "sample_in-wiki.jsonl").read_text())
    return path


def test_page_is_self_contained_and_escapes_text(episodes_file, tmp_path):
    episodes = read_episodes([episodes_file])
    assert len(episodes) == 42
    cut = episodes[-1]["steps"][-1]
    assert cut["action"] == "search" and cut["truncated"] and cut["query"] == "" and cut["documents"] == []
    page = render_html(episodes)
    assert "http://" not in page and "https://" not in page and "<script src" not in page
    assert page.count("</script>") == 2  # only the page's own two script tags end a script


def test_bad_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\nnot json\n')
    for path, error, match in ((bad, ValueError, "bad.jsonl:2: expected one JSON episode per line"),
                               (tmp_path / "missing.jsonl", FileNotFoundError, "no such file")):
        with pytest.raises(error, match=match):  # `zerosearch view` prints it as one line (tests/test_cli.py)
            main([str(path), "-o", str(tmp_path / "p.html")])


@pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                    reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; "
                           "CI installs them in .ci/run)")
def test_page_renders_and_filters_in_headless_chromium(episodes_file, tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium (the dev extra)")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page = tmp_path / "page.html"
    assert main([str(episodes_file), "-o", str(page)]) == 0
    episodes = read_episodes([episodes_file])
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.get(page.as_uri())
        rows = driver.find_elements(By.CSS_SELECTOR, "details.ep")
        assert len(rows) == len(episodes) == 42
        assert driver.find_element(By.ID, "count").text == "42 of 42 episodes"
        assert driver.title.startswith("ZeroSearch episodes")  # the hostile question did not run
        hostile = [r for r in rows if "onerror" in r.text]
        assert len(hostile) == 1 and HOSTILE in hostile[0].text
        driver.save_screenshot(str(tmp_path / "all.png"))

        Select(driver.find_element(By.ID, "f-correct")).select_by_value("correct")
        correct = sum(e["em"] >= 1 for e in episodes)
        assert correct > 0 and len(driver.find_elements(By.CSS_SELECTOR, "details.ep")) == correct
        Select(driver.find_element(By.ID, "f-correct")).select_by_value("")
        Select(driver.find_element(By.ID, "f-dataset")).select_by_value("sample")
        assert driver.find_element(By.ID, "count").text == "20 of 42 episodes"
        Select(driver.find_element(By.ID, "f-dataset")).select_by_value("")
        Select(driver.find_element(By.ID, "f-noisy")).select_by_value("noisy")
        noisy_rows = driver.find_elements(By.CSS_SELECTOR, "details.ep")
        assert len(noisy_rows) == 1

        noisy_rows[0].find_element(By.TAG_NAME, "summary").click()  # expand: every turn appears
        from selenium.webdriver.support.ui import WebDriverWait

        # the turns are rendered by the details element's toggle event, which fires after click() returns
        WebDriverWait(driver, 10).until(lambda d: noisy_rows[0].find_elements(By.CSS_SELECTOR, ".turn"))
        turns = noisy_rows[0].find_elements(By.CSS_SELECTOR, ".turn")
        assert [t.get_attribute("class") for t in turns] == ["turn search", "turn answer"]
        flags = [f.text for f in turns[0].find_elements(By.CSS_SELECTOR, ".flag")]
        assert flags == ["noisy", "verified: repaired after 2 resample(s)"]
        assert "a noisy document </script>" in turns[0].text and "look it up" in turns[0].text
        driver.save_screenshot(str(tmp_path / "noisy_expanded.png"))
        assert (tmp_path / "noisy_expanded.png").stat().st_size > 1000

        Select(driver.find_element(By.ID, "f-noisy")).select_by_value("")  # the cut-off search: not "useful"
        last = driver.find_elements(By.CSS_SELECTOR, "details.ep")[-1]
        last.find_element(By.TAG_NAME, "summary").click()
        WebDriverWait(driver, 10).until(lambda d: last.find_elements(By.CSS_SELECTOR, ".turn"))
        flags = [f.text for f in last.find_elements(By.CSS_SELECTOR, ".turn .flag")]
        assert flags == ["not sent: past the last search turn"]
    finally:
        driver.quit()
