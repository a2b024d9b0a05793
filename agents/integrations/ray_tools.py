"""Starting or joining a Ray cluster with clear errors: Ray missing, or no cluster at the address given."""
from __future__ import annotations

import os
import socket


def import_ray():
    """``import ray`` with an error that names the fix."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"this needs Ray: pip install 'zerosearch-gym[ray]' (or [rllib]) ({exc})") from exc
    return ray


def init_ray(address: str | None = None, num_cpus: int | None = None, connect_timeout_s: float = 5.0):
    """Start a local Ray instance (``address=None``) or join a running cluster; returns the ``ray`` module.

    ``address`` is ``"auto"``, ``"HOST:PORT"`` (the GCS port of ``ray start --head``) or ``"ray://HOST:PORT"``.
    A HOST:PORT nobody listens on fails within ``connect_timeout_s`` with a ``ConnectionError`` instead of Ray's
    own retries. Calling it again while Ray runs is a no-op.
    """
    ray = import_ray()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if ray.is_initialized():
        return ray
    if address and address != "auto":
        host, _, port = address.removeprefix("ray://").rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected a Ray address 'auto', 'HOST:PORT' or 'ray://HOST:PORT', got {address!r}")
        try:
            socket.create_connection((host, int(port)), timeout=connect_timeout_s).close()
        except OSError as exc:
            raise ConnectionError(f"no Ray cluster at {address} ({exc}); start one with `ray start --head` "
                                  "or pass address=None for a local instance") from exc
    try:
        kwargs = {"num_cpus": num_cpus} if address is None else {}
        ray.init(address=address, include_dashboard=False, log_to_driver=False, **kwargs)
    except ConnectionError as exc:
        raise ConnectionError(f"no Ray cluster at {address!r}: {exc}; start one with `ray start --head`") from exc
    return ray
