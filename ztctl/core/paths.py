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
        return Path(os.path.expanduser(explicit))
    if env.get("ZTCTL_CONFIG"):
        return _absolute_env_path(env, "ZTCTL_CONFIG")
    return default_config_path()


def state_dir(env: Mapping[str, str] = os.environ) -> Path:
    """The state directory. It need not exist yet (it is created on first write), but a path
    that can never be one (a file, a FIFO, a dangling symlink, a symlink loop), one the user
    cannot write in (another user's, mode 0500, a read-only file system) and a relative
    ``ZTCTL_STATE_DIR`` are an :class:`InvalidInput` (exit 3) with the fix, for every command
    that needs it."""
    if "ZTCTL_STATE_DIR" in env and env["ZTCTL_STATE_DIR"] != "":
        path = _absolute_env_path(env, "ZTCTL_STATE_DIR")
        check_state_dir(path, "point ZTCTL_STATE_DIR at a directory (created if missing)")
        check_state_dir_access(path, "or point ZTCTL_STATE_DIR at a directory of yours")
        return path
    path = default_state_dir()
    check_state_dir(
        path, "move it out of the way (ztctl creates the directory), or set ZTCTL_STATE_DIR"
    )
    check_state_dir_access(path, "or set ZTCTL_STATE_DIR to a directory of yours")
    return path


def _absolute_env_path(env: Mapping[str, str], variable: str) -> Path:
    """``$variable`` as a path, which must be absolute (``~`` expanded): a relative one would
    mean a different file in every directory the command runs from."""
    from ztctl.errors import InvalidInput

    value = env[variable]
    path = Path(os.path.expanduser(value))  # ~nobody-known stays as it is: relative
    if not value.strip() or not path.is_absolute():
        raise InvalidInput(
            f"{variable}={value!r} is not an absolute path",
            f'set {variable} to an absolute path (e.g. "$PWD/{value.strip() or "ztctl"}"), '
            "or unset it for the default",
        )
    return path


def check_state_dir_access(path: Path, alternative: str) -> None:
    """Nothing when ztctl can create and use the state directory ``path``; else an
    :class:`InvalidInput` naming the directory in the way, what is wrong (another user's, its
    mode, a read-only file system) and the fix. ``path`` passed :func:`check_state_dir`."""
    from ztctl.errors import InvalidInput

    target = path
    while not os.path.lexists(target) and target.parent != target:
        target = target.parent  # the directory that would hold the new one
    wanted = os.R_OK | os.W_OK | os.X_OK if target == path else os.W_OK | os.X_OK
    problem = access_problem(target, wanted)
    if problem is None:
        return
    why, fix = problem
    where = (
        f"state directory {path}"
        if target == path
        else f"cannot create state directory {path}: {target}"
    )
    raise InvalidInput(f"{where} {why}", f"{fix}, {alternative}")


def access_problem(
    path: Path, wanted: int = os.R_OK | os.W_OK | os.X_OK, *, chown: Path | None = None
) -> tuple[str, str] | None:
    """Why the current user cannot use ``path`` (``wanted`` as for :func:`os.access`) and the
    fix, or ``None`` when they can (or it does not exist). ``chown``: what the fix gives
    back to the user when ``path`` is another user's (default ``path``)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if os.access(path, wanted, effective_ids=os.access in os.supports_effective_ids):
        return None
    if wanted & os.W_OK and _read_only_fs(path):
        return "is on a read-only file system", "remount it read-write"
    me = os.geteuid() if hasattr(os, "geteuid") else None
    if me is not None and st.st_uid != me:
        return (
            f"belongs to {_user(st.st_uid)}, not to you ({_user(me, uid_too=False)})",
            f'sudo chown -R "$USER" {_quote(chown or path)} (`sudo ztctl` likely created it)',
        )
    import stat

    return (
        f"has mode {stat.S_IMODE(st.st_mode):04o}, which does not let you use it",
        f"chmod u+rwx {_quote(path)}",
    )


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
    except (OSError, AttributeError):  # no statvfs (Windows)
        return False


def _user(uid: int, *, uid_too: bool = True) -> str:
    try:
        import pwd

        name = pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"
    return f"{name} (uid {uid})" if uid_too else name


def _quote(path: Path) -> str:
    import shlex

    return shlex.quote(str(path))


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
