"""Where ztctl's files live (docs/configuration.md), without loading the config schema.

Kept apart from :mod:`ztctl.core.config` so that finding the state directory (which every
command does, to reap expired break-glass sessions) costs no dataclass creation.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "ztctl"


def _xdg(variable: str) -> Path | None:
    """On Linux an absolute ``$XDG_..._HOME`` decides the directory by itself (every
    platformdirs version agrees), so platformdirs (~3 ms of imports) is not needed."""
    value = os.environ.get(variable, "")
    if sys.platform.startswith("linux") and os.path.isabs(value):
        return Path(value) / APP_NAME
    return None


def default_config_path() -> Path:
    base = _xdg("XDG_CONFIG_HOME")
    if base is None:
        import platformdirs

        base = platformdirs.user_config_path(APP_NAME)
    return base / "config.toml"


def default_state_dir() -> Path:
    base = _xdg("XDG_STATE_HOME")
    if base is not None:
        return base
    import platformdirs

    return platformdirs.user_state_path(APP_NAME)


def config_path(explicit: str | None, env: Mapping[str, str] = os.environ) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if env.get("ZTCTL_CONFIG"):
        return Path(env["ZTCTL_CONFIG"]).expanduser()
    return default_config_path()


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    if env.get("ZTCTL_STATE_DIR"):
        return Path(env["ZTCTL_STATE_DIR"]).expanduser()
    return default_state_dir()
