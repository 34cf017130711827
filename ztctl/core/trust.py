"""Which commands from a catalog ztctl may run on this laptop (docs/security.md).

A catalog can name programs: an exec credential plugin (``credentials.exec``) and the
break-glass ``vpn.up``/``vpn.down`` commands. The catalog may come from an https URL that
someone else controls, so none of them runs unseen:

- Each one is shown in full (argv and env) and needs an explicit "yes" the first time. The
  approval is pinned by a fingerprint, the SHA-256 of the command, its arguments and its
  environment, in ``<state>/trusted-commands.json`` (0600). A changed command is a new
  fingerprint: it is shown again, marked as changed, and asked again.
- Without a terminal (``--no-input``, CI) an unapproved command is refused with exit 4; the
  message gives the fingerprint. Approve it by running the command once on a terminal, or
  list the fingerprint in ``ZTCTL_TRUST`` (space or comma separated) where no one can answer.
- Every approval is audited (``trust.approve``).
- An exec plugin of a catalog cluster that is not in kubeconfig is never run by ``doctor``
  or ``probe``: kubectl runs what kubeconfig says, and ztctl does not widen that.

Nothing here prompts: the caller hands :func:`require` a ``confirm`` callable.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztctl.core.model import Cluster, ExecCredential, VpnRoute
from ztctl.errors import AuthNeeded

TRUST_FILE = "trusted-commands.json"
TRUST_ENV = "ZTCTL_TRUST"
MAX_TRUST_FILE_BYTES = 1024 * 1024

EXEC_PLUGIN = "exec plugin"
VPN_UP = "break-glass vpn up"
VPN_DOWN = "break-glass vpn down"


class UntrustedCommand(AuthNeeded):
    """A catalog command was not approved (exit 4: a person has to say yes once)."""

    kind = "untrusted-command"


@dataclass(frozen=True)
class CatalogCommand:
    """One program a catalog asks ztctl to run, exactly as it would run."""

    cluster: str
    purpose: str  # EXEC_PLUGIN | VPN_UP | VPN_DOWN
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.purpose}"

    @property
    def fingerprint(self) -> str:
        canonical = json.dumps(
            {"argv": list(self.argv), "env": [list(pair) for pair in self.env]},
            separators=(",", ":"),
            ensure_ascii=True,
        )
        return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()

    def display(self) -> str:
        """The command line as a shell would read it, env first (``K=V cmd args``).

        A word with a character that does not print as itself (a line break, U+2028, a
        zero-width or bidi character) is shown in bash's ``$'...'`` quoting with that
        character escaped, so the prompt can never hide or move part of the command."""
        env = [f"{name}={shell_word(value)}" for name, value in self.env]
        return " ".join([*env, *(shell_word(arg) for arg in self.argv)])


_C_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def shell_word(word: str) -> str:
    """``word`` quoted for a POSIX shell; ``$'...'`` with escapes when it holds a character
    that does not print as itself (what ``str.isprintable`` refuses, space aside)."""
    if word.replace(" ", "").isprintable():
        return shlex.quote(word)
    out = []
    for char in word:
        if char in _C_ESCAPES:
            out.append(_C_ESCAPES[char])
        elif char == " " or char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:  # \xHH is a byte: above ASCII, \u keeps it UTF-8
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "$'" + "".join(out) + "'"


def exec_command(cluster: Cluster) -> CatalogCommand | None:
    creds = cluster.credentials
    if not isinstance(creds, ExecCredential):
        return None
    return CatalogCommand(cluster.name, EXEC_PLUGIN, (creds.command, *creds.args), creds.env)


def vpn_commands(cluster: Cluster) -> list[CatalogCommand]:
    route = cluster.break_glass.route if cluster.break_glass is not None else None
    if not isinstance(route, VpnRoute):
        return []
    return [
        CatalogCommand(cluster.name, VPN_UP, tuple(route.up)),
        CatalogCommand(cluster.name, VPN_DOWN, tuple(route.down)),
    ]


def commands_of(cluster: Cluster) -> list[CatalogCommand]:
    """Every program ``cluster``'s catalog entry can make ztctl run."""
    found = exec_command(cluster)
    return ([found] if found is not None else []) + vpn_commands(cluster)


def may_run_catalog_plugin(cluster: Cluster | None, source: str) -> bool:
    """Whether doctor/probe may run the exec plugin of a target built from ``source``.

    ``source`` is where the target's credentials came from: ``"kubeconfig"`` (what kubectl
    runs anyway) or ``"catalog"`` (a cluster not merged into kubeconfig). A catalog exec
    plugin runs only once ``use-cluster`` has put it in kubeconfig (after approval).
    """
    if source != "catalog" or cluster is None:
        return True
    return not isinstance(cluster.credentials, ExecCredential)


def withheld_reason(name: str) -> str:
    return (
        f"the exec plugin of {name} is not run: {name} is not in kubeconfig, and ztctl runs "
        "only the plugins kubectl would run"
    )


def withheld_fix(name: str) -> str:
    return f"run `ztctl use-cluster {name}` (it shows the plugin and asks before writing it)"


# -- the pinned approvals ----------------------------------------------------------------


def _store_path(state_dir: Path) -> Path:
    return state_dir / TRUST_FILE


def _load(state_dir: Path) -> dict[str, Any]:
    """The approvals; an unreadable or malformed file counts as none (asks again)."""
    from ztctl.adapters.fs import read_regular_file

    try:
        data = json.loads(read_regular_file(_store_path(state_dir), MAX_TRUST_FILE_BYTES))
    except (OSError, ValueError):
        return {}
    commands = data.get("commands") if isinstance(data, dict) else None
    return commands if isinstance(commands, dict) else {}


def _env_approved(env: Mapping[str, str]) -> set[str]:
    raw = env.get(TRUST_ENV, "")
    out = set()
    for item in raw.replace(",", " ").split():
        item = item.strip().lower()
        out.add(item if item.startswith("sha256:") else f"sha256:{item}")
    return out


def is_trusted(
    state_dir: Path, command: CatalogCommand, env: Mapping[str, str] = os.environ
) -> bool:
    if command.fingerprint in _env_approved(env):
        return True
    entry = _load(state_dir).get(command.key)
    return isinstance(entry, dict) and entry.get("fingerprint") == command.fingerprint


def approve(state_dir: Path, commands: Iterable[CatalogCommand]) -> None:
    """Pin ``commands`` (atomically, 0600) and audit each approval."""
    from ztctl.adapters.fs import atomic_write, ensure_private_dir
    from ztctl.core import audit

    commands = list(commands)
    stored = _load(state_dir)
    for command in commands:
        audit.record(
            state_dir,
            "trust.approve",
            cluster=command.cluster,
            purpose=command.purpose,
            fingerprint=command.fingerprint,
            command=list(command.argv),
            envNames=[name for name, _ in command.env],
        )
        stored[command.key] = {
            "fingerprint": command.fingerprint,
            "argv": list(command.argv),
            "envNames": [name for name, _ in command.env],
            "approvedAt": audit.now_rfc3339(),
        }
    ensure_private_dir(state_dir)
    document = {"version": 1, "commands": stored}
    atomic_write(_store_path(state_dir), json.dumps(document, indent=2).encode("utf-8"), mode=0o600)


def describe(state_dir: Path, commands: Sequence[CatalogCommand]) -> str:
    """What the prompt (or the refusal) shows: every command in full, new or changed."""
    stored = _load(state_dir)
    lines = []
    for command in commands:
        previous = stored.get(command.key)
        state = "CHANGED since you approved it" if isinstance(previous, dict) else "new"
        lines.append(f"{command.cluster}: {command.purpose} ({state}):")
        lines.append(f"    {command.display()}")
        lines.append(f"    fingerprint {command.fingerprint}")
    return "\n".join(lines)


def require(
    state_dir: Path,
    commands: Sequence[CatalogCommand],
    *,
    interactive: bool,
    confirm: Callable[[str], bool] | None,
    env: Mapping[str, str] = os.environ,
) -> None:
    """Return when every command is approved; ask (once) for the ones that are not.

    Raises :class:`UntrustedCommand` (exit 4) without a terminal or when the answer is no.
    """
    pending = [c for c in commands if not is_trusted(state_dir, c, env)]
    if not pending:
        return
    shown = describe(state_dir, pending)
    fingerprints = " ".join(c.fingerprint for c in pending)
    cluster = pending[0].cluster
    if not interactive or confirm is None:
        raise UntrustedCommand(
            f"the catalog asks ztctl to run a command on this computer that you have not "
            f"approved ({cluster})",
            "check the command, then approve it: run the same ztctl command once on a "
            f"terminal (it asks), or where no one can answer set {TRUST_ENV}="
            f'"{fingerprints}" (docs/security.md)',
            details=shown.splitlines(),
        )
    if not confirm(shown):
        raise UntrustedCommand(
            f"not approved: ztctl did not run the catalog's command for {cluster}",
            "run it again and answer yes once you trust the command, or ask the platform team "
            "why the catalog runs it",
            details=shown.splitlines(),
        )
    approve(state_dir, pending)
