"""The verifiers plugin ``zerosearch-verifiers`` (``vf-eval --env.taskset.id zerosearch-verifiers``): verifiers
imports a taskset by a top-level module name, so this package re-exports :mod:`agents.integrations.verifiers_env`."""
from agents.integrations.verifiers_env import (
    ZeroSearchData,
    ZeroSearchEnvConfig,
    ZeroSearchTask,
    ZeroSearchTaskset,
    ZeroSearchTasksetConfig,
    ZeroSearchVfEnv,
    load_environment,
)

__all__ = ["ZeroSearchData", "ZeroSearchEnvConfig", "ZeroSearchTask", "ZeroSearchTaskset", "ZeroSearchTasksetConfig",
           "ZeroSearchVfEnv", "load_environment"]
