"""Glue to the RL libraries users already run; each module imports its library, so import the one you need.

- :mod:`.rllib` — env creator, curriculum callback, causal-LM RLModule (``pip install zerosearch-gym[rllib]``).
- :mod:`.sb3` — a features extractor on a causal LM for PPO on the token view (``[sb3]``).
- :mod:`.trl` — ZeroSearch-v0 as the multi-turn environment of TRL's ``GRPOTrainer`` (``[trl]``).
- :mod:`.ray_tools` — starting a local Ray cluster with a clear error when Ray is missing (``[ray]``).
"""
