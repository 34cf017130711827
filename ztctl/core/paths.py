"""Where ztctl's files live (docs/configuration.md), without loading the config schema.

Kept apart from :mod:`ztctl.core.config` so that finding the state directory (which every
command does, to reap expired break-glass sessions) costs no dataclass creation.
"""

from __future__ import annotations

import errno
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
    """The state directory. It need not exist yet (it is created on first write), but a path
    that can never be one (a file, a FIFO, a dangling symlink, a symlink loop) is an
    :class:`InvalidInput` (exit 3) with the fix, for every command that needs it."""
    if env.get("ZTCTL_STATE_DIR"):
        path = Path(env["ZTCTL_STATE_DIR"]).expanduser()
        check_state_dir(path, "point ZTCTL_STATE_DIR at a directory (created if missing)")
        return path
    path = default_state_dir()
    check_state_dir(
        path, "move it out of the way (ztctl creates the directory), or set ZTCTL_STATE_DIR"
    )
    return path


def check_state_dir(path: Path, fix: str) -> None:
    """Nothing when ``path`` is a directory or does not exist yet; else why it cannot be one."""
    import stat

    from ztctl.errors import InvalidInput

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        broken = _dangling_link(path)
        if broken is None:
            return  # created on first write
        target = os.readlink(broken)
        where = f"state directory {path}" + ("" if broken == path else f": {broken}")
        raise InvalidInput(
            f"{where} is a symlink to {target}, which does not exist",
            f"create {target} (mkdir -m 700), or {fix}",
        ) from None
    except OSError as exc:  # ELOOP, ENOTDIR, EACCES, ENAMETOOLONG
        why = {
            errno.ELOOP: "is a symlink loop",
            errno.ENOTDIR: "has a part that is not a directory",
        }.get(exc.errno or 0, f"cannot be reached: {exc.strerror or exc}")
        raise InvalidInput(f"state directory {path} {why}", fix) from None
    if not stat.S_ISDIR(mode):
        raise InvalidInput(f"state directory {path} is {_kind(mode)}, not a directory", fix)


def _dangling_link(path: Path) -> Path | None:
    """The first part of ``path`` that is a symlink to nothing, if any."""
    for part in [*reversed(path.parents), path]:
        if os.path.islink(part) and not os.path.exists(part):
            return part
    return None


def _kind(mode: int) -> str:
    import stat

    kinds = (
        (stat.S_ISREG, "a file"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((name for test, name in kinds if test(mode)), "not a directory")
