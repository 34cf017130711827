"""Which kubeconfig files kubectl reads and writes, and reading one of them safely.

client-go ``NewDefaultClientConfigLoadingRules`` and kubectl ``PathOptions`` (also in
docs/use-cluster.md):

- ``--kubeconfig F``: only F (a missing F is an empty config for a writer);
- else ``KUBECONFIG``, split on ``os.pathsep``, empty elements skipped, duplicates dropped
  keeping the first; ``KUBECONFIG=""`` counts as unset;
- else ``$HOME/.kube/config``. ``~`` is never expanded (Go does not either).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ztctl.core.kubeconfig import schema
from ztctl.core.kubeconfig.yamlio import YamlProblem, parse
from ztctl.errors import InvalidInput

BOM = "\ufeff"


@dataclass(frozen=True)
class Precedence:
    """The files of one kubectl invocation, in loading order."""

    paths: tuple[Path, ...]
    explicit: bool  # from --kubeconfig
    source: str  # "--kubeconfig", "KUBECONFIG" or "default"


def _home(env: Mapping[str, str]) -> Path:
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def precedence(
    kubeconfig: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Precedence:
    """The loading precedence, as absolute paths (``filepath.Abs``: no symlink resolution)."""
    env = os.environ if env is None else env
    if kubeconfig:
        return Precedence((Path(os.path.abspath(kubeconfig)),), True, "--kubeconfig")
    value = env.get("KUBECONFIG", "")
    if value:
        seen: set[Path] = set()
        paths: list[Path] = []
        for element in value.split(os.pathsep):
            if not element:
                continue
            path = Path(os.path.abspath(element))
            if path not in seen:
                seen.add(path)
                paths.append(path)
        if paths:
            return Precedence(tuple(paths), False, "KUBECONFIG")
    return Precedence((Path(os.path.abspath(_home(env) / ".kube" / "config")),), False, "default")


@dataclass(frozen=True, eq=False)
class KubeconfigFile:
    """One file of the precedence list, as read (``exists`` False: missing, empty config)."""

    path: Path  # absolute, as listed; may be a symlink
    exists: bool
    raw: bytes = b""  # exactly as read
    text: str = ""  # decoded, without a byte-order mark
    data: dict[str, Any] = field(default_factory=dict)
    root: Any = None  # the composed yaml node (None: empty document)
    bom: bool = False
    signature: tuple[int, int, int] | None = None  # (inode, size, mtime_ns) when read

    @property
    def target(self) -> Path:
        """Where a write lands: the symlink's final target (kubectl writes through links)."""
        return Path(os.path.realpath(self.path))

    @property
    def newline(self) -> str:
        return "\r\n" if "\r\n" in self.text[:4096] else "\n"

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        return value if isinstance(value, list) else []


def _invalid(
    path: Path, problem: str, fix: str | None = None, details: list[str] | None = None
) -> InvalidInput:
    return InvalidInput(
        f"kubeconfig {path} {problem}",
        fix
        or f"fix {path} (kubectl cannot load it either), or point --kubeconfig or "
        "KUBECONFIG at another file; nothing was written",
        details=details,
    )


def read_file(path: Path) -> KubeconfigFile:
    """Read and validate ``path``; every reason kubectl would refuse it is InvalidInput."""
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return KubeconfigFile(path=path, exists=False)
    except NotADirectoryError:
        raise _invalid(path, "is inside something that is not a directory") from None
    except OSError as exc:
        raise _invalid(path, f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISLNK(lst.st_mode):
        try:
            os.stat(path)
        except FileNotFoundError:
            target = os.readlink(path)
            raise _invalid(
                path,
                f"is a symbolic link to {target}, which does not exist",
                f"create {target}, or remove the dangling link {path}; nothing was written",
            ) from None
        except OSError as exc:
            raise _invalid(path, f"cannot be followed: {exc.strerror or exc}") from None
    from ztctl.adapters.fs import MAX_KUBECONFIG_BYTES, NotRegularFile, TooLarge, open_regular

    try:
        raw, st = open_regular(path, MAX_KUBECONFIG_BYTES)
    except IsADirectoryError:
        raise _invalid(path, "is a directory, not a file") from None
    except NotRegularFile as exc:
        # A FIFO or a device would block or never end; kubectl would hang on it.
        raise _invalid(
            path,
            f"is {exc.what}, not a regular file",
            f"point --kubeconfig or KUBECONFIG at a kubeconfig file, or remove {path}; "
            "nothing was written",
        ) from None
    except TooLarge as exc:
        raise _invalid(
            path, f"is larger than {exc.limit // (1024 * 1024)} MiB: not a kubeconfig"
        ) from None
    except PermissionError:
        raise _invalid(
            path,
            "cannot be read: permission denied",
            f"make it readable by you (`chmod u+r {path}`; kubectl needs that too); "
            "nothing was written",
        ) from None
    except OSError as exc:
        raise _invalid(path, f"cannot be read: {exc.strerror or exc}") from None
    signature = (st.st_ino, st.st_size, st.st_mtime_ns)
    return parse_file(path, raw, signature)


def parse_file(
    path: Path, raw: bytes, signature: tuple[int, int, int] | None = None
) -> KubeconfigFile:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid(
            path, f"is not UTF-8 text (byte {exc.start}): a binary file, or another encoding"
        ) from None
    bom = text.startswith(BOM)
    if bom:
        text = text[1:]
    try:
        data, root = parse(raw[len(BOM.encode()) :] if bom else raw)
    except YamlProblem as exc:
        where = f" at line {exc.line}" if exc.line else ""
        if exc.several:
            raise _invalid(
                path,
                f"holds more than one YAML document (the second starts{where}); kubectl reads "
                "only the first and ignores the rest",
                f"ztctl does not edit such a file, so as not to lose or misplace the other "
                f"documents: keep one document per file (list the files in KUBECONFIG), or "
                f"point --kubeconfig at another file; nothing was written to {path}",
            ) from None
        raise _invalid(path, f"is not valid YAML{where}: {exc.message}") from None
    if data is None:
        data = {}
    problems = schema.check(data)
    if isinstance(data, dict):
        problems.extend(_duplicate_names(data))
    if problems:
        lines = [_describe(data, root, where, message) for where, message in problems]
        if len(lines) == 1:
            raise _invalid(path, f"is malformed: {lines[0]}")
        raise _invalid(path, f"is malformed in {len(lines)} places", details=lines)
    return KubeconfigFile(
        path=path,
        exists=True,
        raw=raw,
        text=text,
        data=data,
        root=root,
        bom=bom,
        signature=signature,
    )


def _duplicate_names(data: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    problems = []
    for key in schema.LISTS:  # kubectl does not check extensions
        items = data.get(key)
        if not isinstance(items, list):
            continue
        first: dict[str, int] = {}
        for index, item in enumerate(items):
            if item is not None and not isinstance(item, dict):
                continue
            name = (item or {}).get("name") or ""
            if name in first:
                problems.append(
                    (
                        (key, index),
                        f"duplicate name {name!r} in {key} (also at {key}[{first[name]}]); "
                        "kubectl refuses the file",
                    ),
                )
            else:
                first[name] = index
    return problems


def _describe(data: Any, root: Any, path: tuple[Any, ...], message: str) -> str:
    where = schema.format_path(data, path)
    line = _line_of(root, path)
    at = f" (line {line})" if line else ""
    return f"{where}{at} {message}"


def _line_of(node: Any, path: tuple[Any, ...]) -> int | None:
    from ztctl.core.kubeconfig.yamlio import MappingNode, SequenceNode

    for part in path:
        if isinstance(node, MappingNode):
            found = None
            for key, value in node.value:
                if getattr(key, "value", None) == part:
                    found = value
            if found is None:
                break
            node = found
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1 if node is not None else None


def default_filename(prec: Precedence, files: tuple[KubeconfigFile, ...]) -> Path:
    """kubectl ``PathOptions.GetDefaultFilename``: where new entries and current-context go.

    The --kubeconfig file; else the only KUBECONFIG element; else the first existing one;
    else the last one; else ``~/.kube/config``.
    """
    if prec.explicit or len(prec.paths) == 1:
        return prec.paths[0]
    for f in files:
        if f.exists:
            return f.path
    return prec.paths[-1]
