"""Where ztctl's files live (contract §3), without loading the config schema.

Kept apart from :mod:`ztctl.core.config` so that finding the state directory (which every
command does, to reap expired break-glass sessions) costs no dataclass creation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

APP_NAME = "ztctl"


def default_config_path() -> Path:
    import platformdirs

    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_state_dir() -> Path:
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
