"""``zerosearch view FILE [FILE ...] -o page.html``: episodes JSONL -> one self-contained static HTML page.

Each line of FILE is one episode as ``zerosearch eval`` writes it (``episodes.jsonl``): ``dataset``,
``question``, ``golden_answers``, ``answer``, ``reward``, ``f1``, ``em`` and ``steps`` — one dict per turn
with ``action`` (search / answer / invalid / retrieve), ``think``, ``query``, ``noisy``, ``verify``, ``documents``,
``answer``, ``text``. The page lists the episodes (question, gold, answer, reward); a click expands one to
every turn; filters pick a dataset, correct / wrong (exact match) and episodes with / without noisy searches.
No network, no external file: the data and the script are inside the page.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
from pathlib import Path

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}
.bar{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd}
.bar label{margin-right:1em}
details.ep{border:1px solid #ddd;border-radius:6px;margin:.5em 0;padding:.3em .6em}
details.ep>summary{cursor:pointer}
.ok{color:#176b2c;font-weight:600}.bad{color:#a31515;font-weight:600}
.turn{border-left:3px solid #bbb;margin:.5em 0 .5em .5em;padding:.2em .6em}
.search{border-color:#2f6fdb}.answer{border-color:#176b2c}.invalid{border-color:#a31515}.retrieve{border-color:#8a5cd1}
.flag{font-size:12px;padding:0 .4em;border-radius:3px;margin-left:.4em}
.useful{background:#dff3e3}.noisy{background:#fde2e1}.unsent{background:#eee;color:#555}
.think{color:#555;font-style:italic}.docs li{margin:.2em 0}.meta{color:#666;font-size:12px}
"""

SCRIPT = r"""
const episodes = JSON.parse(document.getElementById('episodes-data').textContent);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text); return e; };
const correct = ep => (ep.em || 0) >= 1;
const noisy = ep => (ep.steps || []).some(s => s.noisy);
function turnBox(step, i) {
  const box = el('div', 'turn ' + (step.action || ''));
  const head = el('div', null, `turn ${i + 1}: ${step.action || '?'}`);
  if (step.action === 'search' || step.action === 'retrieve') {
    // a search that sent nothing (past the last search turn: no query, no documents) is neither useful nor noisy
    const sent = step.query || (step.documents && step.documents.length) || step.backend_error;
    const kind = !sent ? 'unsent' : step.noisy ? 'noisy' : 'useful';
    const label = sent ? kind : 'not sent' + (step.truncated ? ': past the last search turn' : '');
    head.appendChild(el('span', 'flag ' + kind, label));
  }
  if (step.verify && step.verify !== 'off')
    head.appendChild(el('span', 'flag', 'verified: ' + step.verify +
      (step.verify_resamples ? ` after ${step.verify_resamples} resample(s)` : '')));
  box.appendChild(head);
  if (step.think) box.appendChild(el('div', 'think', 'think: ' + step.think));
  if (step.query) box.appendChild(el('div', 'query', 'query: ' + step.query));
  if (step.documents && step.documents.length) {
    const ol = el('ol', 'docs'); step.documents.forEach(d => ol.appendChild(el('li', null, d))); box.appendChild(ol);
  }
  if (step.backend_error) box.appendChild(el('div', 'bad', 'backend error: ' + step.backend_error));
  if (step.action === 'answer') box.appendChild(el('div', null, `answer: ${step.answer}  (F1 ${(+step.f1 || 0).toFixed(2)})`));
  if (step.action === 'invalid') box.appendChild(el('div', 'bad', 'invalid: ' + (step.invalid_reason || '')));
  if (step.text) { const raw = el('details', 'meta'); raw.appendChild(el('summary', null, 'raw text'));
    raw.appendChild(el('pre', null, step.text)); box.appendChild(raw); }
  return box;
}
function episodeBox(ep, index) {
  const d = el('details', 'ep'); d.dataset.index = index;
  const s = el('summary');
  s.appendChild(el('span', correct(ep) ? 'ok' : 'bad', correct(ep) ? '✔ ' : '✘ '));
  s.appendChild(el('b', 'question', ep.question));
  s.appendChild(el('span', 'meta', `  [${ep.dataset}]  gold: ${(ep.golden_answers || []).join(' | ')}  ` +
    `answer: ${ep.answer === null || ep.answer === undefined ? '—' : ep.answer}  reward ${(+ep.reward || 0).toFixed(2)}` +
    `  searches ${ep.searches || 0}`));
  d.appendChild(s);
  d.addEventListener('toggle', () => { if (d.open && d.children.length === 1)
    (ep.steps || []).forEach((step, i) => d.appendChild(turnBox(step, i))); });
  return d;
}
function render() {
  const ds = document.getElementById('f-dataset').value, ok = document.getElementById('f-correct').value,
        nz = document.getElementById('f-noisy').value, list = document.getElementById('list');
  list.replaceChildren();
  let shown = 0;
  episodes.forEach((ep, i) => {
    if (ds && ep.dataset !== ds) return;
    if (ok && (ok === 'correct') !== correct(ep)) return;
    if (nz && (nz === 'noisy') !== noisy(ep)) return;
    list.appendChild(episodeBox(ep, i)); shown++;
  });
  document.getElementById('count').textContent = `${shown} of ${episodes.length} episodes`;
}
const dsSelect = document.getElementById('f-dataset');
[...new Set(episodes.map(e => e.dataset))].forEach(name => { const o = el('option', null, name); o.value = name; dsSelect.appendChild(o); });
['f-dataset', 'f-correct', 'f-noisy'].forEach(id => document.getElementById(id).addEventListener('change', render));
render();
"""


def read_episodes(paths: list[str | Path]) -> list[dict]:
    """Every episode of the JSONL files; a line that is not a JSON object is an error naming file and line."""
    episodes = []
    for path in map(Path, paths):
        if not path.is_file():
            raise FileNotFoundError(f"expected an episodes JSONL file, got {str(path)!r} (no such file)")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: expected one JSON episode per line, got invalid JSON "
                                 f"({err.msg})") from None
            if not isinstance(row, dict) or "question" not in row:
                raise ValueError(f"{path}:{number}: expected an episode object with a question, got "
                                 f"{type(row).__name__}")
            row.setdefault("dataset", path.stem)
            episodes.append(row)
    return episodes


def render_html(episodes: list[dict], title: str = "ZeroSearch episodes") -> str:
    """The page: the episodes as JSON inside a script tag (``</`` escaped), the style and the script."""
    data = json.dumps(episodes, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\!--")
    select = '<select id="{id}"><option value="">{all}</option>{options}</select>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{STYLE}</style></head>
<body><h1>{html.escape(title)}</h1>
<div class="bar">
<label>dataset {select.format(id="f-dataset", all="all", options="")}</label>
<label>answer {select.format(id="f-correct", all="all", options='<option value="correct">correct (EM)</option><option value="wrong">wrong</option>')}</label>
<label>searches {select.format(id="f-noisy", all="all", options='<option value="noisy">with a noisy search</option><option value="clean">no noisy search</option>')}</label>
<span id="count"></span></div>
<div id="list"></div>
<script type="application/json" id="episodes-data">{data}</script>
<script>{SCRIPT}</script>
</body></html>
"""


def write_page(paths: list[str | Path], output: str | Path, title: str | None = None) -> Path:
    episodes = read_episodes(paths)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_html(episodes, title or f"ZeroSearch episodes: {', '.join(map(str, paths))}"),
                      encoding="utf-8")
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zerosearch view", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="episodes JSONL files (zerosearch eval writes episodes.jsonl)")
    parser.add_argument("-o", "--output", default="episodes.html", help="the HTML page to write")
    parser.add_argument("--title", default=None)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    page = write_page(args.files, args.output, args.title)  # a bad file: one line from `zerosearch view`
    print(f"wrote {page} ({page.stat().st_size // 1024} kB); open it in a browser")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
