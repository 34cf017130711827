"""`ztctl use-cluster`: merge a catalog cluster into kubeconfig the way kubectl would.

The cluster, user and context are all named after the catalog cluster and carry the
``ztctl`` extension. An entry ztctl wrote earlier is updated in the file it lives in; a
new one goes where ``kubectl config set-*`` would put it, and so does current-context.
Entries ztctl did not write are never changed, except that ``prune_duplicates`` removes
the ones that point at the same API server (and the contexts and users only they use).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ztctl.core.entries import (  # the entries themselves: shared with clusters, probe, doctor
    CREDENTIAL_COMMAND,
    desired_entries,
)
from ztctl.core.kubeconfig.edit import EditedFile, FileEditor
from ztctl.core.kubeconfig.files import precedence, read_file
from ztctl.core.kubeconfig.model import (
    EXTENSION_NAME,
    KINDS,
    Entry,
    Kubeconfig,
    merge_files,
    server_matches,
)
from ztctl.core.kubeconfig.store import (
    LOCK_TIMEOUT_S,
    backup_path,
    check_unchanged,
    locked,
    write_file,
)
from ztctl.core.kubeconfig.yamlio import gc_paused
from ztctl.core.model import Cluster
from ztctl.errors import InvalidInput, OperationFailed

if TYPE_CHECKING:
    from ztctl.core.probe import ProbeResult, Target


@dataclass(frozen=True)
class EntryChange:
    kind: str  # "cluster" | "user" | "context" | "current-context"
    name: str
    action: str  # "add" | "update" | "remove" | "set"
    file: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "action": self.action, "file": self.file}


@dataclass(frozen=True)
class Duplicate:
    """An entry under another name for the same API server (or a same-named foreign one)."""

    kind: str
    name: str
    file: str
    reason: str
    server: str | None = None
    removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "file": self.file,
            "reason": self.reason,
            "server": self.server,
            "removed": self.removed,
        }


@dataclass(frozen=True)
class FileChange:
    path: str  # as listed in KUBECONFIG / --kubeconfig
    target: str  # where the bytes went (symlinks resolved)
    method: str  # "splice" | "rewrite"
    created: bool
    backup: str | None
    diff: str

    def to_dict(self, with_diff: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "target": self.target,
            "method": self.method,
            "created": self.created,
            "backup": self.backup,
        }
        if with_diff:
            out["diff"] = self.diff
        return out


@dataclass(frozen=True)
class UseClusterResult:
    cluster: str
    context: str
    server: str
    namespace: str | None
    kubeconfig: tuple[str, ...]  # the precedence list
    previous_context: str
    current_context: str
    switched: bool
    dry_run: bool
    changes: tuple[EntryChange, ...]
    files: tuple[FileChange, ...]
    duplicates: tuple[Duplicate, ...]
    warnings: tuple[str, ...] = ()
    probe: ProbeResult | None = None  # ``--probe``: the API server reached after the merge

    @property
    def changed(self) -> bool:
        return bool(self.files)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cluster": self.cluster,
            "context": self.context,
            "server": self.server,
            "namespace": self.namespace,
            "kubeconfig": list(self.kubeconfig),
            "previousContext": self.previous_context or None,
            "currentContext": self.current_context or None,
            "switched": self.switched,
            "dryRun": self.dry_run,
            "changed": self.changed,
            "changes": [c.to_dict() for c in self.changes],
            "files": [f.to_dict(self.dry_run) for f in self.files],
            "duplicates": [d.to_dict() for d in self.duplicates],
            "warnings": list(self.warnings),
        }
        if self.probe is not None:
            out["probe"] = self.probe.to_dict()
        return out


def _keep_foreign_extensions(item: dict[str, Any], kind: str, existing: Entry) -> None:
    """Extensions other tools added to ztctl's entry stay, in place (ztctl's first if new)."""
    others = existing.body.get("extensions")
    if not isinstance(others, list) or not others:
        return
    ours = item[kind]["extensions"][0]
    merged = [
        ours if isinstance(e, dict) and e.get("name") == EXTENSION_NAME else e for e in others
    ]
    if ours not in merged:
        merged.insert(0, ours)
    item[kind]["extensions"] = merged


def _without(body: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k not in keys}


def _same_but_unmarked(existing: Entry, body: dict[str, Any]) -> bool:
    """A same-named entry another tool wrote with exactly ztctl's content: adopt it.

    Only the ``ztctl`` extension is added (and, for a context, its namespace is kept), so
    what kubectl does with the entry does not change.
    """
    ignore = ("extensions", "namespace") if existing.kind == "context" else ("extensions",)
    return _without(existing.body, *ignore) == _without(body, *ignore)


def _adoptable(context: Entry, name: str) -> bool:
    return _without(context.body, "extensions", "namespace") == {"cluster": name, "user": name}


# --- planning -------------------------------------------------------------------------


@dataclass
class _Plan:
    kc: Kubeconfig
    editors: dict[Path, FileEditor] = field(default_factory=dict)
    changes: list[EntryChange] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    conflicts: list[Entry] = field(default_factory=list)
    namespace: str | None = None

    def editor(self, path: Path) -> FileEditor:
        if path not in self.editors:
            self.editors[path] = FileEditor(self.kc.file(path))
        return self.editors[path]


def _find_duplicates(
    kc: Kubeconfig, cluster: Cluster, catalog_names: frozenset[str]
) -> list[tuple[Entry, str]]:
    found: list[tuple[Entry, str]] = []
    clusters: set[str] = set()
    for entry in kc.entries:
        if entry.kind != "cluster" or entry.name == cluster.name:
            continue
        owner = entry.catalog_name
        if owner is not None and owner != cluster.name and owner in catalog_names:
            continue  # ztctl's entry for another catalog cluster
        why = server_matches(entry.body, cluster)
        if why:
            found.append((entry, why))
            clusters.add(entry.name)
    if not clusters:
        return found
    contexts: set[str] = set()
    for entry in kc.entries:
        if entry.kind == "context" and entry.name != cluster.name:
            used = entry.body.get("cluster")
            if used in clusters:
                found.append((entry, f"uses the duplicate cluster {used}"))
                contexts.add(entry.name)
    users_of_dups = {
        e.body.get("user") for e in kc.entries if e.kind == "context" and e.name in contexts
    }
    users_kept = {
        e.body.get("user") for e in kc.entries if e.kind == "context" and e.name not in contexts
    }
    for entry in kc.entries:
        if (
            entry.kind == "user"
            and entry.name != cluster.name
            and entry.name in users_of_dups
            and entry.name not in users_kept
        ):
            found.append((entry, "used only by duplicate contexts"))
    return found


def plan_merge(
    kc: Kubeconfig,
    cluster: Cluster,
    *,
    team: str | None = None,
    namespace: str | None = None,
    switch: bool = True,
    prune_duplicates: bool = False,
    catalog_names: Iterable[str] = (),
    credential_command: str = CREDENTIAL_COMMAND,
) -> _Plan:
    """Decide every change; raises OperationFailed on a same-named foreign entry."""
    plan = _Plan(kc)
    name = cluster.name
    default_file = kc.default_filename
    namespace = _namespace(kc, cluster, namespace)
    plan.namespace = namespace
    items = desired_entries(cluster, team, namespace, credential_command=credential_command)

    for kind, key in KINDS.items():
        item = items[kind]
        existing = kc.entry(kind, name)
        if existing is None:
            plan.editor(default_file).add_item(key, item)
            plan.changes.append(EntryChange(kind, name, "add", str(default_file)))
            continue
        if existing.owned or _same_but_unmarked(existing, item[kind]):
            _keep_foreign_extensions(item, kind, existing)
        else:
            plan.conflicts.append(existing)
            if not prune_duplicates:
                continue
        current = kc.file(existing.origin).items(key)[existing.index]
        if current != item:
            plan.editor(existing.origin).replace_item(key, existing.index, item)
            plan.changes.append(EntryChange(kind, name, "update", str(existing.origin)))

    if plan.conflicts and not prune_duplicates:
        described = [f"{e.kind} {e.name!r} in {e.origin}" for e in plan.conflicts]
        deletes = " and ".join(f"`kubectl config delete-{e.kind} {e.name}`" for e in plan.conflicts)
        raise OperationFailed(
            f"kubeconfig already has entries named {name!r} that ztctl did not write: "
            + ", ".join(described),
            f"rerun with --prune-duplicates to replace them, or remove them first with {deletes}",
        )
    for entry in plan.conflicts:
        plan.duplicates.append(
            Duplicate(
                entry.kind,
                entry.name,
                str(entry.origin),
                "has this name but was not written by ztctl",
                entry.server or None,
                removed=True,
            )
        )

    _plan_duplicates(plan, cluster, frozenset(catalog_names), prune_duplicates)
    _plan_current_context(plan, name, switch)
    for path, editor in plan.editors.items():
        if not kc.file(path).data:  # a new or empty file: make it a complete kubeconfig
            editor.set_scalar("apiVersion", "v1")
            editor.set_scalar("kind", "Config")
    return plan


def _namespace(kc: Kubeconfig, cluster: Cluster, namespace: str | None) -> str | None:
    """--namespace, else the one the user set on ztctl's context, else the catalog's."""
    if namespace is not None:
        return namespace
    existing = kc.contexts.get(cluster.name)
    kept = existing.body.get("namespace") if existing else None
    if (
        existing is not None
        and (existing.owned or _adoptable(existing, cluster.name))
        and isinstance(kept, str)
    ):
        return kept or None
    return cluster.namespace


def _plan_duplicates(
    plan: _Plan, cluster: Cluster, catalog_names: frozenset[str], prune_duplicates: bool
) -> None:
    """Other entries for the same API server: listed, and removed with --prune-duplicates."""
    kc = plan.kc
    for entry, why in _find_duplicates(kc, cluster, catalog_names):
        plan.duplicates.append(
            Duplicate(
                entry.kind,
                entry.name,
                str(entry.origin),
                why,
                entry.server or None,
                removed=prune_duplicates,
            )
        )
        if prune_duplicates:
            plan.editor(entry.origin).remove_item(KINDS[entry.kind], entry.index)
            plan.changes.append(EntryChange(entry.kind, entry.name, "remove", str(entry.origin)))


def _plan_current_context(plan: _Plan, name: str, switch: bool) -> None:
    kc = plan.kc
    default_file = kc.default_filename
    removed_contexts = {
        d.name for d in plan.duplicates if d.kind == "context" and d.removed and d.name != name
    }
    if switch and kc.current_context != name:
        plan.editor(default_file).set_scalar("current-context", name)
        plan.changes.append(EntryChange("current-context", name, "set", str(default_file)))
    elif not switch and kc.current_context in removed_contexts:
        plan.warnings.append(
            f"the current context {kc.current_context!r} was removed as a duplicate; "
            f"switch with `kubectl config use-context {name}`"
        )


def refuse_empty_files(kc: Kubeconfig) -> None:
    """Refuse to merge while a kubeconfig file of the list exists but is empty.

    kubectl reads an empty file as an empty config, but an empty file is most often what a
    writer killed between truncate and write leaves behind (kubectl writes in place). Merging
    into it would make the loss permanent, so ztctl stops and lets the user decide.
    """
    for f in kc.files:
        if f.exists and not f.raw.strip():
            backup = backup_path(f.path)
            restore = f"restore it from {backup} or " if backup.exists() else ""
            raise InvalidInput(
                f"kubeconfig {f.path} is empty (0 bytes): often what an interrupted write "
                "leaves behind, so ztctl will not write into it",
                f"{restore}delete it if it should be empty (ztctl then creates it anew), "
                "and run the command again",
            )


def merge_cluster(
    cluster: Cluster,
    *,
    team: str | None = None,
    kubeconfig: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    namespace: str | None = None,
    switch: bool = True,
    dry_run: bool = False,
    prune_duplicates: bool = False,
    catalog_names: Iterable[str] = (),
    state_dir: Path | None = None,
    credential_command: str = CREDENTIAL_COMMAND,
    lock_timeout: float = LOCK_TIMEOUT_S,
) -> UseClusterResult:
    """Merge ``cluster`` into the kubeconfig files and (by default) switch to it.

    Under client-go's locks (not for ``dry_run``): read every file, plan, build the new
    texts, check no lock-ignoring writer changed a file meanwhile, then write each changed
    file atomically with a backup. Nothing changes = nothing written. When ``state_dir`` is
    given, the audit event ``kubeconfig.write`` is recorded *before* the first file is
    written, so nothing is written without a record: an event that cannot be recorded is an
    :class:`~ztctl.core.audit.AuditWriteFailed` (exit 1) and every file is left untouched.
    """
    prec = precedence(kubeconfig, env)
    guard = contextlib.nullcontext() if dry_run else locked(prec.paths, lock_timeout)
    with guard, gc_paused():
        files = tuple(read_file(path) for path in prec.paths)
        kc = merge_files(prec, files)
        refuse_empty_files(kc)
        plan = plan_merge(
            kc,
            cluster,
            team=team,
            namespace=namespace,
            switch=switch,
            prune_duplicates=prune_duplicates,
            catalog_names=catalog_names,
            credential_command=credential_command,
        )
        edited = _build(plan)
        changed_files = {str(item.file.path) for item in edited}
        changes = tuple(c for c in plan.changes if c.file in changed_files)
        audit_dir = state_dir if edited and not dry_run else None
        if audit_dir is not None:
            for item in edited:
                check_unchanged(item.file.path, item.file.signature)
            _audit(audit_dir, cluster, [str(item.file.target) for item in edited], changes)
        try:
            written = _write(edited, dry_run)
        except BaseException as exc:
            if audit_dir is not None:
                _audit_failure(audit_dir, cluster, exc)
            raise

    warnings = list(plan.warnings)

    switched = switch and (kc.current_context != cluster.name)
    return UseClusterResult(
        cluster=cluster.name,
        context=cluster.name,
        server=cluster.server,
        namespace=plan.namespace,
        kubeconfig=tuple(str(p) for p in prec.paths),
        previous_context=kc.current_context,
        current_context=cluster.name if switch else kc.current_context,
        switched=switched,
        dry_run=dry_run,
        changes=changes,
        files=tuple(written),
        duplicates=tuple(plan.duplicates),
        warnings=tuple(warnings),
    )


def _build(plan: _Plan) -> list[EditedFile]:
    """The new text of every file the plan changes."""
    edited: list[EditedFile] = []
    for editor in plan.editors.values():
        try:
            result = editor.build()
        except RuntimeError as exc:  # pragma: no cover - a bug, never a torn file
            raise OperationFailed(str(exc), "report this bug; nothing was written") from exc
        if result is not None:
            edited.append(result)
    return edited


def _write(edited: list[EditedFile], dry_run: bool) -> list[FileChange]:
    """Unless ``dry_run``, check no one changed each file and write it."""
    if not dry_run:
        for item in edited:
            check_unchanged(item.file.path, item.file.signature)
    written: list[FileChange] = []
    for item in edited:
        if dry_run:
            target, backup = item.file.target, None
        else:
            target, backup = write_file(
                item.file.path, item.content, item.file.raw if item.file.exists else None
            )
        written.append(
            FileChange(
                path=str(item.file.path),
                target=str(target),
                method=item.method,
                created=not item.file.exists,
                backup=str(backup) if backup else None,
                diff=item.diff() if dry_run else "",
            )
        )
    return written


def _audit(
    state_dir: Path, cluster: Cluster, targets: list[str], changes: tuple[EntryChange, ...]
) -> None:
    """Record ``kubeconfig.write`` before the write: fails closed (AuditWriteFailed, exit 1)."""
    from ztctl.core import audit

    audit.record(
        state_dir,
        "kubeconfig.write",
        cluster=cluster.name,
        files=targets,
        entries=[f"{c.action} {c.kind} {c.name} ({c.file})" for c in changes],
    )


def _audit_failure(state_dir: Path, cluster: Cluster, exc: BaseException) -> None:
    """The recorded write did not happen (whole): say so, best effort."""
    _record_failed_write(state_dir, exc, cluster=cluster.name)


def _record_failed_write(state_dir: Path, exc: BaseException, **fields: str) -> None:
    from ztctl.core import audit

    with contextlib.suppress(OSError):
        audit.record(
            state_dir,
            "kubeconfig.write-failed",
            **fields,
            error=getattr(exc, "message", None) or type(exc).__name__,
        )


def verify(
    result: UseClusterResult,
    cluster: Cluster,
    team: str | None,
    *,
    timeout: float,
    interactive: bool,
    env: Mapping[str, str],
) -> UseClusterResult:
    """``--probe``: reach the API server with the entries kubectl now uses (Zero Trust
    route); the result carries what the probe found."""
    import dataclasses

    from ztctl.core.probe import ProbeOptions, probe, zero_trust_path

    target = merged_target(cluster, team)
    options = ProbeOptions(timeout=timeout, allow_interactive=interactive, env=env)
    outcome = probe(target, zero_trust_path(target, env), options)
    return dataclasses.replace(result, probe=outcome)


def merged_target(cluster: Cluster, team: str | None) -> Target:
    """The target of the entries ``use-cluster`` just merged for ``cluster``.

    After a successful merge the cluster and user named after the catalog cluster are the
    ones ztctl writes (a conflicting entry stops the merge), so they are built again here
    rather than read back from a possibly large kubeconfig.
    """
    from ztctl.core.probe import target_from_kubeconfig

    entries = desired_entries(cluster, team, None)
    return target_from_kubeconfig(
        cluster.name,
        entries["cluster"]["cluster"],
        entries["user"]["user"],
        catalog_cluster=cluster,
    )


# --- `use-cluster -`: the previous context ------------------------------------------

PREVIOUS_CONTEXT_FILE = "previous-context"


def remember_previous(state_dir: Path, previous: str) -> None:
    """Record the context a switch left, for ``use-cluster -`` (like kubectx's file)."""
    from ztctl.adapters.fs import atomic_write, ensure_private_dir

    if not previous:
        return
    ensure_private_dir(state_dir)
    atomic_write(state_dir / PREVIOUS_CONTEXT_FILE, (previous + "\n").encode("utf-8"))


# A context name is at most a few hundred bytes; the file holds one and a newline.
MAX_PREVIOUS_CONTEXT_BYTES = 4096


def previous_context(state_dir: Path) -> str | None:
    """The context the last switch left, or ``None`` when there was none.

    Read as a bounded regular file: a FIFO, a device or a directory put in its place is an
    :class:`InvalidInput` naming what it is (never waited on, never read for ever); a file
    the user may not read raises its ``PermissionError``.
    """
    import errno

    from ztctl.adapters.fs import NotRegularFile, TooLarge, read_regular_text
    from ztctl.errors import InvalidInput

    path = state_dir / PREVIOUS_CONTEXT_FILE
    try:
        name = read_regular_text(path, MAX_PREVIOUS_CONTEXT_BYTES).strip()
    except (NotRegularFile, TooLarge, IsADirectoryError, UnicodeDecodeError) as exc:
        if isinstance(exc, NotRegularFile):
            what = f"is {exc.what}, not a regular file"
        elif isinstance(exc, IsADirectoryError):
            what = "is a directory, not a regular file"
        elif isinstance(exc, TooLarge):
            what = f"is larger than {MAX_PREVIOUS_CONTEXT_BYTES} bytes"
        else:
            what = "is not UTF-8 text"
        raise InvalidInput(
            f"{path}, where ztctl keeps the previous context, {what}",
            f"remove it (rm -r {path}); the next `ztctl use-cluster NAME` writes it again",
        ) from None
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise  # another user's file: exit 3 with the fix (the CLI's state-dir backstop)
        return None  # missing (or gone while read): no previous context
    return name or None


@dataclass(frozen=True)
class SwitchResult:
    context: str
    previous_context: str
    file: str | None  # the file whose current-context was written; None when unchanged

    def to_dict(self) -> dict[str, Any]:
        return {
            "context": self.context,
            "previousContext": self.previous_context or None,
            "currentContext": self.context,
            "switched": self.file is not None,
            "file": self.file,
        }


def switch_context(
    name: str,
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    lock_timeout: float = LOCK_TIMEOUT_S,
    state_dir: Path | None = None,
) -> SwitchResult:
    """Make the existing context ``name`` current, as ``kubectl config use-context`` does.

    The value goes to the file whose current-context kubectl reads, else to the file kubectl
    writes new values to; under client-go's locks, atomically, with one backup. Like
    :func:`use_cluster`, with ``state_dir`` the write is recorded as ``kubeconfig.write``
    before it happens (fails closed: nothing written without the record).
    """
    prec = precedence(kubeconfig, env)
    with locked(prec.paths, lock_timeout), gc_paused():
        kc = merge_files(prec, tuple(read_file(path) for path in prec.paths))
        if name not in kc.contexts:
            raise InvalidInput(
                f"the previous context {name!r} is no longer in kubeconfig",
                "pick one with `ztctl use-cluster` (or `kubectl config get-contexts`)",
            )
        if kc.current_context == name:
            return SwitchResult(name, kc.current_context, None)
        path = kc.current_context_file or kc.default_filename
        editor = FileEditor(kc.file(path))
        editor.set_scalar("current-context", name)
        edited = editor.build()
        if edited is None:  # pragma: no cover - set_scalar always changes a different value
            return SwitchResult(name, kc.current_context, None)
        check_unchanged(edited.file.path, edited.file.signature)
        if state_dir is not None:
            from ztctl.core import audit

            audit.record(
                state_dir,
                "kubeconfig.write",
                context=name,
                files=[str(edited.file.target)],
                entries=[f"set current-context {name} ({edited.file.path})"],
            )
        try:
            target, _backup = write_file(
                edited.file.path, edited.content, edited.file.raw if edited.file.exists else None
            )
        except BaseException as exc:
            if state_dir is not None:
                _record_failed_write(state_dir, exc, context=name)
            raise
    return SwitchResult(name, kc.current_context, str(target))
