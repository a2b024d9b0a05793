"""Doctest collection skips the modules of extras that are not installed (each extra's tests live in tests/ and
skip on their own with ``pytest.importorskip``)."""
import importlib.util

OPTIONAL = {  # module file -> the package its extra installs
    "agents/integrations/openenv_env.py": "openenv",
    "agents/integrations/openenv_client.py": "openenv",
    "agents/integrations/skyrl.py": "skyrl_gym",
    "agents/integrations/verl_tool.py": "verl",
    "agents/integrations/verifiers_env.py": "verifiers",
}

collect_ignore = [path for path, package in OPTIONAL.items() if importlib.util.find_spec(package) is None]
