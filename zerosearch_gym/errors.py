"""The errors a user can act on, and the translation of failed hub access into one of them.

Programmer errors stay ``ValueError`` / ``TypeError`` with an "expected X, got Y" message. What a user of the
``zerosearch`` command can fix derives from :class:`ZeroSearchError`; the command prints it as one line
(exit code 2) and shows the traceback only with ``--debug``.

>>> issubclass(UsageError, ValueError) and issubclass(OfflineError, OSError)
True
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager


class ZeroSearchError(Exception):
    """Base of the errors a user can fix: a bad option, a missing file or extra, a model the machine cannot get."""


class UsageError(ZeroSearchError, ValueError):
    """A command-line argument or option value is invalid (the message says what was expected)."""


class OfflineError(ZeroSearchError, OSError):
    """A hub model or dataset is needed, the machine cannot reach the hub, and the local cache lacks it."""


def hub_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` asks the Hugging Face libraries not to touch the network."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


_CONNECTION_HINTS = ("couldn't connect", "couldn't reach", "offlinemodeisenabled", "offline mode",
                     "connection error", "failed to establish a new connection", "name or service not known",
                     "temporary failure in name resolution", "max retries exceeded", "network is unreachable")


def is_connection_failure(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the hub could not be reached."""
    seen = 0
    while exc is not None and seen < 8:
        text = f"{type(exc).__name__}: {exc}".lower()
        if isinstance(exc, ConnectionError) or any(hint in text for hint in _CONNECTION_HINTS):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def offline_message(name: str | None = None, repo_type: str = "model") -> str:
    """The one line that says what to do when ``name`` is neither a local folder nor in the hub cache."""
    flag = " --repo-type dataset" if repo_type == "dataset" else ""
    why = "this machine is offline (HF_HUB_OFFLINE=1)" if hub_offline() else "this machine cannot reach the hub"
    what = f"the {repo_type} {name!r} is" if name else "a model or dataset it needs is"
    return (f"{why} and {what} neither a local folder nor in the local cache; pass a local folder or "
            f"pre-download it with `hf download {name or 'NAME'}{flag}`")


def offline_message_for(exc: BaseException) -> str:
    """:func:`offline_message` for a connection failure raised without :func:`hub_access`: the hub id is read
    from the first quoted ``'org/name'`` in the error chain (datasets and transformers quote it)."""
    text = ""
    while exc is not None and len(text) < 4000:
        text, exc = text + f" {exc}", exc.__cause__ or exc.__context__
    found = re.search(r"'([\w.-]+/[\w.-]+)'", text)
    repo_type = "dataset" if "on the Hub" in text or "dataset" in text.lower() else "model"
    return offline_message(found.group(1) if found else None, repo_type)


@contextmanager
def hub_access(name: str, repo_type: str = "model") -> Iterator[None]:
    """Run a hub load (``from_pretrained``, ``datasets.load_dataset``) of ``name``; turn a failure to reach the
    hub into :class:`OfflineError` with :func:`offline_message`. Other errors pass through unchanged.

    >>> with hub_access("org/some-model"):
    ...     raise ConnectionError("Couldn't reach 'org/some-model' on the Hub")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    zerosearch_gym.errors.OfflineError: ... the model 'org/some-model' is neither a local folder nor in the local cache; ...
    """
    try:
        yield
    except OfflineError:
        raise
    except Exception as exc:
        if not is_connection_failure(exc):
            raise
        raise OfflineError(offline_message(name, repo_type)) from exc
