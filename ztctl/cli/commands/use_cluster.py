"""`ztctl use-cluster`: merge a catalog cluster into kubeconfig and switch to it."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, Any

import click

from ztctl.cli.complete import cluster_names
from ztctl.cli.output import emit, json_option, pass_app
from ztctl.cli.palette import Palette, stdout_palette

if TYPE_CHECKING:
    from ztctl.cli.app import App
    from ztctl.core.model import Catalog, Cluster
    from ztctl.core.probe import ProbeResult
    from ztctl.core.use_cluster import UseClusterResult

# client-go validates a context namespace as a DNS-1123 label.
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


def _check_namespace(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Any:
    if value is not None and not _NAMESPACE_RE.fullmatch(value):
        raise click.BadParameter(
            f"{value!r} is not a valid namespace (lower-case letters, digits and '-', "
            "at most 63, starting and ending with a letter or digit)"
        )
    return value


@click.command("use-cluster")
@click.argument("name", required=False, metavar="[NAME | -]", shell_complete=cluster_names)
@click.option(
    "-n",
    "--namespace",
    metavar="NS",
    callback=_check_namespace,
    help="The context's namespace (default: the one you set before, else the catalog's).",
)
@click.option("--no-switch", is_flag=True, help="Merge the entries but keep the current context.")
@click.option("--dry-run", is_flag=True, help="Print a unified diff per file; write nothing.")
@click.option(
    "--prune-duplicates",
    is_flag=True,
    help="Remove other entries for the same API server, and the contexts that use them.",
)
@click.option(
    "--probe/--no-probe",
    default=None,
    help="Say in one line whether the API server answers (default: on).",
)
@json_option
@pass_app
def command(
    app: App,
    name: str | None,
    namespace: str | None,
    no_switch: bool,
    dry_run: bool,
    prune_duplicates: bool,
    probe: bool | None,
) -> None:
    """Merge a catalog cluster into kubeconfig and make it the current context

    Writes a cluster, a user and a context all named NAME, the way `kubectl config` would:
    into the file an entry came from, new entries and current-context into the file kubectl
    picks, under kubectl's lock, atomically, keeping one backup (<file>.ztctl.bak). Entries
    ztctl did not write are never changed; other entries for the same API server are
    reported, and removed with --prune-duplicates. Without NAME on a terminal, pick from a
    list (with fzf when it is on PATH); `-` switches back to the previous context.
    """
    import gc

    from ztctl.core.use_cluster import merge_cluster

    # A one-shot process that builds ~10^6 objects for a large kubeconfig: cyclic garbage
    # collection only costs time here (a full pass over them all when re-enabled).
    gc.disable()
    _refuse_inside_break_glass(app)
    catalog = app.catalog()
    if name == "-":
        name = _previous(app)
        if catalog.get(name) is None:  # not a catalog cluster: only switch back to it
            _switch_back(app, name)
            return
    cluster = _pick(app, catalog) if name is None else app.cluster(name)
    if not dry_run:
        _require_trust(app, cluster)
    result = merge_cluster(
        cluster,
        team=catalog.team,
        kubeconfig=app.kubeconfig,
        env=app.env,
        namespace=namespace,
        switch=not no_switch,
        dry_run=dry_run,
        prune_duplicates=prune_duplicates,
        catalog_names=catalog.names,
        state_dir=app.state_dir,
    )
    if _credential_command_missing(cluster):
        result = _with_warning(
            result,
            "`ztctl` is not on PATH, so kubectl cannot run `ztctl credential "
            f"{cluster.name}`: add its directory to PATH",
        )
    if result.switched and not dry_run:
        _remember(app, result.previous_context)
    probing = not dry_run and probe is not False  # --probe is the default
    if app.json:
        if probing:
            result = _probe(app, cluster, result)
        emit(app, result.to_dict(), lambda: None)
        return
    # What was written first; then the probe, which can take seconds, behind a spinner.
    _text(app, result)
    if probing:
        from ztctl.cli.spinner import spinner

        sys.stdout.flush()
        with spinner(f"Checking the API server of {cluster.name}", enabled=not app.quiet):
            result = _probe(app, cluster, result)
        if result.probe is not None:
            click.echo(_probe_line(result.probe))


def _refuse_inside_break_glass(app: App) -> None:
    """Inside `break-glass exec`/`shell` the first kubeconfig file is the session's overlay:
    whatever use-cluster wrote would land there and vanish when the session ends."""
    from ztctl.core.breakglass.overlay import overlay_in_use
    from ztctl.errors import UsageError

    overlay = overlay_in_use(app.state_dir, app.kubeconfig, app.env)
    if overlay is not None:
        session = overlay.parent.name
        raise UsageError(
            f"this runs inside the break-glass session for {session}: its kubeconfig list "
            f"starts with the session's temporary overlay {overlay}, so use-cluster would "
            "write there and the change would vanish when the session ends",
            "run `ztctl use-cluster` outside the break-glass session (leave the break-glass "
            "shell, or use another terminal); inside it, pick a context with "
            "`kubectl --context NAME`",
        )


def _previous(app: App) -> str:
    from ztctl.core.use_cluster import previous_context
    from ztctl.errors import InvalidInput

    previous = previous_context(app.state_dir)
    if previous is None:
        raise InvalidInput(
            "there is no previous context to switch back to",
            "switch once with `ztctl use-cluster NAME`; then `ztctl use-cluster -` goes back",
        )
    return previous


def _remember(app: App, previous: str) -> None:
    from ztctl.core.use_cluster import remember_previous

    try:
        remember_previous(app.state_dir, previous)
    except OSError as exc:  # the switch itself succeeded; only `-` will not know
        app.debug(f"could not record the previous context: {exc}")


def _switch_back(app: App, name: str) -> None:
    from ztctl.core.use_cluster import switch_context

    switched = switch_context(name, kubeconfig=app.kubeconfig, env=app.env, state_dir=app.state_dir)
    if switched.file is not None:
        _remember(app, switched.previous_context)

    def text() -> None:
        if switched.file is None:
            click.echo(f'Context "{name}" is current.')
        else:
            click.echo(f'Switched to context "{name}".')

    emit(app, switched.to_dict(), text)


def _require_trust(app: App, cluster: Cluster) -> None:
    """A catalog exec plugin lands in kubeconfig (kubectl runs it) only once approved."""
    from ztctl.core import trust

    command = trust.exec_command(cluster)
    if command is None:
        return

    def confirm(shown: str) -> bool:
        click.echo(
            "The catalog asks to run this command on this computer whenever kubectl talks "
            f"to {cluster.name}:",
            err=True,
        )
        click.echo(shown, err=True)
        return click.confirm("Run it (kubectl and ztctl will)?", default=False, err=True)

    trust.require(
        app.state_dir, [command], interactive=app.interactive, confirm=confirm, env=app.env
    )


def _pick(app: App, catalog: Catalog) -> Cluster:
    from ztctl.errors import UsageError

    names = catalog.names
    if not names:
        from ztctl.core.redact import hide_passwords

        raise UsageError(
            f"the catalog {hide_passwords(catalog.source)} lists no clusters",
            "ask the platform team to add one",
        )
    if not app.interactive or app.json:
        raise UsageError(
            "which cluster? the catalog lists " + ", ".join(names),
            "name one: `ztctl use-cluster NAME` (without --no-input, on a terminal, ztctl "
            "offers a list)",
        )
    current = _current_context(app)
    rows = picker_rows(catalog, current)
    from ztctl.adapters import fzf

    finder = fzf.available(app.env)
    if finder is not None:
        chosen = fzf.pick(finder, rows, "cluster> ", "* marks the current context")
        if chosen is None:
            raise click.Abort
        found = catalog.get(chosen[2:].split(" ", 1)[0])
        if found is not None:
            return found
    for index, row in enumerate(rows, 1):
        click.echo(f"  {index:>{len(str(len(rows)))}}) {row}", err=True)
    while True:
        answer = click.prompt("Cluster (number or name)", err=True).strip()
        found, problem = choose(catalog, answer)
        if found is not None:
            return found
        click.echo(problem, err=True)


def picker_rows(catalog: Catalog, current: str | None) -> list[str]:
    """One aligned line per cluster: ``* name   server``, the current context marked."""
    width = max(len(cluster.name) for cluster in catalog.clusters)
    return [
        f"{'*' if cluster.name == current else ' '} {cluster.name:<{width}}   {cluster.server}"
        for cluster in catalog.clusters
    ]


def choose(catalog: Catalog, answer: str) -> tuple[Cluster | None, str]:
    """The cluster an answer names (number, name, unique prefix), or why it names none."""
    from ztctl.core.suggest import did_you_mean

    names = catalog.names
    if answer.isdigit() and 1 <= int(answer) <= len(names):
        return catalog.clusters[int(answer) - 1], ""
    found = catalog.get(answer)
    if found is not None:
        return found, ""
    matches = [name for name in names if answer and name.startswith(answer)]
    if len(matches) == 1:
        return catalog.get(matches[0]), ""
    if matches:
        return None, f"{answer!r} could be {', '.join(matches)}; type more of the name"
    hint = did_you_mean(answer, names)
    return None, f"no cluster {answer!r}{hint}; type 1-{len(names)}, a name or a prefix"


def _current_context(app: App) -> str | None:
    from ztctl.core.kubeconfig.model import load_kubeconfig
    from ztctl.errors import ZtctlError

    try:
        return load_kubeconfig(app.kubeconfig, app.env).current_context or None
    except ZtctlError:
        return None  # the merge reports a broken kubeconfig properly


def _credential_command_missing(cluster: Cluster) -> bool:
    import shutil

    from ztctl.core.model import AccessToken

    return isinstance(cluster.credentials, AccessToken) and shutil.which("ztctl") is None


def _with_warning(result: UseClusterResult, warning: str) -> UseClusterResult:
    import dataclasses

    return dataclasses.replace(result, warnings=(*result.warnings, warning))


def _probe(app: App, cluster: Cluster, result: UseClusterResult) -> UseClusterResult:
    from ztctl.core.use_cluster import verify

    return verify(
        result,
        cluster,
        app.catalog().team,
        timeout=app.config.doctor.timeout,
        interactive=app.interactive,
        env=app.env,
    )


# --- text ---------------------------------------------------------------------------


def _text(app: App, result: UseClusterResult) -> None:
    paint = stdout_palette(app)
    for warning in result.warnings:
        app.warn(warning)
    if result.dry_run:
        for change in result.files:
            sys.stdout.write(_colored_diff(change.diff, paint) if paint.enabled else change.diff)
        if not result.files:
            click.echo(f"kubeconfig already has {result.cluster}; nothing would change.")
        else:
            app.info("dry run: nothing was written")
        _duplicates(app, result)
        return
    if result.files:
        for change in result.files:
            verb = "created" if change.created else "updated"
            what = _describe(result, change.path)
            detail = f" ({', '.join(what)})" if what else ""
            click.echo(f"kubeconfig {change.target} {verb}{detail}")
    else:
        click.echo(f"kubeconfig already has {result.cluster}; nothing written")
    if result.switched:
        ns = f" (namespace {result.namespace})" if result.namespace else ""
        click.echo(f'Switched to context "{result.context}"{ns}.')
    elif result.current_context == result.context:
        click.echo(f'Context "{result.context}" is current.')
    else:
        click.echo(
            f'Context "{result.context}" is ready; current context is still '
            f'"{result.current_context}" (`kubectl config use-context {result.context}`).'
        )
    _duplicates(app, result)


def _describe(result: UseClusterResult, path: str) -> list[str]:
    words = {"add": "added", "update": "updated", "remove": "removed", "set": "set"}
    out = []
    for c in result.changes:
        if c.file != path:
            continue
        if c.kind == "current-context":
            out.append(f"current-context {c.name}")
        else:
            out.append(f"{words[c.action]} {c.kind} {c.name}")
    return out


def _duplicates(app: App, result: UseClusterResult) -> None:
    if not result.duplicates:
        return
    removed = [d for d in result.duplicates if d.removed]
    kept = [d for d in result.duplicates if not d.removed]
    verb = "would remove" if result.dry_run else "removed"
    for d in removed:
        app.info(f"{verb} {d.kind} {d.name} ({d.reason}) from {d.file}")
    if kept:
        app.warn(
            f"{len(kept)} other kubeconfig entries point at the API server of {result.cluster}:",
        )
        for d in kept:
            app.warn(f"  {d.kind} {d.name} ({d.reason}) in {d.file}")
        app.warn(f"remove them with `ztctl use-cluster {result.cluster} --prune-duplicates`")


def _probe_line(outcome: ProbeResult) -> str:
    total = outcome.timings.total_ms
    took = f" in {total:.0f} ms" if total is not None else ""
    if outcome.ok:
        parts = ["ready" if outcome.readyz == "ok" else f"readyz {outcome.readyz!r}"]
        if outcome.version:
            parts.append(outcome.version)
        if outcome.user:
            parts.append(f"as {outcome.user}")
        return f"API server answers{took}: {', '.join(parts)}"
    problem = outcome.problem
    assert problem is not None
    return f"API server check failed{took}: {problem.message} (fix: {problem.fix})"


def _colored_diff(diff: str, paint: Palette) -> str:
    lines = []
    for line in diff.splitlines(keepends=True):
        style = (
            "heading"
            if line.startswith(("+++", "---"))
            else "added"
            if line.startswith("+")
            else "removed"
            if line.startswith("-")
            else "hunk"
            if line.startswith("@@")
            else None
        )
        lines.append(f"{paint(line.rstrip(chr(10)), style)}\n" if style else line)
    return "".join(lines)
