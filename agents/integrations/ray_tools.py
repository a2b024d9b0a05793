"""Starting or joining a Ray cluster with clear errors: Ray missing, or no cluster at the address given.

``init_ray(address=None, num_cpus=None)`` starts a local instance or joins ``"auto"`` / ``"HOST:PORT"`` /
``"ray://HOST:PORT"``; an address nobody listens on is a ``ConnectionError`` within seconds, never a hang.
"""
from zerosearch_gym.backends.ray_pool import init_ray

__all__ = ["init_ray"]
