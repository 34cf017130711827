"""Mutation testing of the modules where a silent bug hurts most, with mutmut.

    pip install -e '.[test,mutation]'
    nice -n 19 .venv/bin/python bench/mutation.py                 # every target
    nice -n 19 .venv/bin/python bench/mutation.py duration catalog --jobs 1

Each target is a set of modules and the fast, pure tests written for them (no lab). For each
target the script copies ``ztctl/``, ``tests/`` and ``pyproject.toml`` into a scratch
directory under ``bench/results/mutation/`` (ignored by git), adds a ``[tool.mutmut]`` section
naming only that target's modules and tests, runs ``mutmut run`` there, and writes
``bench/results/mutation/<target>.md`` and ``.json``: the score (killed ÷ all mutants; a
mutant no test reaches counts as a survivor) and every surviving mutant with its diff.

Not part of CI (minutes, not seconds). docs/testing.md records the latest scores and explains
the surviving mutants that are equivalent (no test can tell them apart from the original).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "mutation"


@dataclass(frozen=True)
class Target:
    modules: tuple[str, ...]  # files under ztctl/ to mutate
    tests: tuple[str, ...]  # the fast tests that guard them
    # When set, only these mutants are run and scored: fnmatch globs over mutmut's names,
    # `ztctl.pkg.module.x_function__mutmut_N` (a method: `ztctl.pkg.module.xǁClassǁmethod__...`).
    only: tuple[str, ...] = ()
    # mutmut does not mutate decorated functions. For these (module, decorator) pairs the
    # scratch copy defines each decorated function undecorated as `NAME__body` and binds
    # `NAME = decorator(NAME__body)` at the end of the module: the same behaviour, mutable.
    undecorate: tuple[tuple[str, str], ...] = ()
    pytest_args: tuple[str, ...] = ()  # e.g. ("-k", "not slow_thing")


TARGETS: dict[str, Target] = {
    "duration": Target(
        modules=("ztctl/core/duration.py",),
        tests=("tests/core/test_duration_rules.py",),
    ),
    # Validation (the YAML document to a Catalog); reading files and https URLs is not scored.
    "catalog": Target(
        modules=("ztctl/core/catalog_parse.py",),
        tests=("tests/core/test_catalog_rules.py", "tests/core/test_catalog.py"),
        only=(
            "ztctl.core.catalog_parse.x_parse_catalog__mutmut_*",
            "ztctl.core.catalog_parse.x__load_yaml__mutmut_*",
            "ztctl.core.catalog_parse.x__yaml_error__mutmut_*",
            "ztctl.core.catalog_parse.x__yaml_type__mutmut_*",
            "ztctl.core.catalog_parse.x__parse_*",
            "ztctl.core.catalog_parse.x__check_*",
            "ztctl.core.catalog_parse.x__resolve_path__*",
            "ztctl.core.catalog_parse.x__exactly_one__*",
            "ztctl.core.catalog_parse.xǁ_Problemsǁ*",
        ),
    ),
    # The doctor's WARP verdicts and split-tunnel rules.
    "warp-verdicts": Target(
        modules=("ztctl/core/doctor/warp.py",),
        tests=(
            "tests/core/test_warp_rules.py",
            # the pure tests of that file (the others run doctor against the lab)
            "tests/core/test_doctor_warp.py::test_split_tunnel_rules",
            "tests/core/test_doctor_warp.py::test_the_re_add_list_never_covers_the_cluster",
        ),
        only=(
            "ztctl.core.doctor.warp.x_check_mode__*",
            "ztctl.core.doctor.warp.x_check_connected__*",
            "ztctl.core.doctor.warp.x_check_registration__*",
            "ztctl.core.doctor.warp.x__host_matches__*",
            "ztctl.core.doctor.warp.x__network__*",
            "ztctl.core.doctor.warp.x_evaluate_split_tunnel__*",
            "ztctl.core.doctor.warp.x__rest_of__*",
            "ztctl.core.doctor.warp.x__source_of__*",
        ),
    ),
    # warp-cli output parsing: modes, settings, split tunnel, status, registration, errors.
    "warp-parsers": Target(
        modules=("ztctl/adapters/warp/parse.py",),
        tests=(
            "tests/adapters/test_warp.py",
            "tests/adapters/test_warp_settings_json_rules.py",
            "tests/adapters/test_warp_parse_rules.py",
            "tests/core/test_warp_rules.py",
        ),
        only=(
            "ztctl.adapters.warp.parse.x_mode_routes_private__*",
            "ztctl.adapters.warp.parse.x_normalize_mode__*",
            "ztctl.adapters.warp.parse.x_parse_*",
            "ztctl.adapters.warp.parse.x__settings_from_json__*",
            "ztctl.adapters.warp.parse.x__status_from_json__*",
            "ztctl.adapters.warp.parse.x__split_entry__*",
            "ztctl.adapters.warp.parse.x__bool__*",
            "ztctl.adapters.warp.parse.x__proxy_port__*",
            "ztctl.adapters.warp.parse.x__redact__*",
        ),
        undecorate=(("ztctl/adapters/warp/parse.py", "_guarded"),),
        # the parsers' tests; not WarpClient's subprocess runs nor the slow fuzzing
        pytest_args=("-k", "not client and not raise_only and not never_raises"),
    ),
    # Probe verdicts: percentiles, route labels, every failure's kind, fix and exit code.
    "probe": Target(
        modules=(
            "ztctl/core/probe/result.py",
            "ztctl/core/probe/routes.py",
            "ztctl/core/probe/diagnose.py",
        ),
        tests=(
            "tests/core/test_probe_rules.py",
            "tests/core/test_probe_diagnose.py",
            "tests/core/test_probe_problem_rules.py",
        ),
        pytest_args=("-k", "not stalls and not slow_proxy and not failed_probe"),
    ),
    # The one budget: every socket wait gets what is left of --timeout.
    "probe-budget": Target(
        modules=("ztctl/adapters/wire/dial.py",),
        tests=("tests/core/test_probe_rules.py", "tests/core/test_probe_wire.py"),
        only=("ztctl.adapters.wire.dial.xǁDeadlineǁ*",),
    ),
    # Break-glass policy: the reason and TTL rules, and the exit code of each failure.
    "break-glass-policy": Target(
        modules=("ztctl/core/breakglass/policy.py", "ztctl/core/breakglass/lifecycle.py"),
        tests=(
            "tests/core/breakglass/test_reason_rules.py",
            "tests/core/breakglass/test_policy.py",
            "tests/core/breakglass/test_exit_codes.py",
        ),
        only=("ztctl.core.breakglass.policy.*", "ztctl.core.breakglass.lifecycle.x_error_for__*"),
    ),
    # Merging a catalog cluster into the kubeconfig (the plan: entries, adoption, conflicts).
    "use-cluster": Target(
        modules=("ztctl/core/use_cluster.py",),
        tests=(
            "tests/core/test_use_cluster_rules.py",
            "tests/core/test_use_cluster_merge_rules.py",
            "tests/core/test_use_cluster.py",
        ),
        only=(
            "ztctl.core.use_cluster.x__extension__*",
            "ztctl.core.use_cluster.x__exec__*",
            "ztctl.core.use_cluster.x_desired_entries__*",
            "ztctl.core.use_cluster.x__keep_foreign_extensions__*",
            "ztctl.core.use_cluster.x__without__*",
            "ztctl.core.use_cluster.x__same_but_unmarked__*",
            "ztctl.core.use_cluster.x__adoptable__*",
            "ztctl.core.use_cluster.x__find_duplicates__*",
            "ztctl.core.use_cluster.x_plan_merge__*",
            "ztctl.core.use_cluster.x__namespace__*",
            "ztctl.core.use_cluster.x__plan_duplicates__*",
            "ztctl.core.use_cluster.x__plan_current_context__*",
            "ztctl.core.use_cluster.x_refuse_empty_files__*",
        ),
    ),
    # Writing kubeconfig files: the lock, the backup, the atomic replace.
    "kubeconfig-store": Target(
        modules=("ztctl/core/kubeconfig/store.py",),
        tests=("tests/core/test_kubeconfig_store_rules.py",),
        undecorate=(("ztctl/core/kubeconfig/store.py", "contextlib.contextmanager"),),
    ),
    # What `ztctl credential` prints for kubectl, and reading a catalog exec plugin's answer.
    "credential": Target(
        modules=("ztctl/core/credential.py", "ztctl/adapters/execcred.py"),
        tests=("tests/core/test_credential_rules.py", "tests/adapters/test_execcred.py"),
        only=(
            "ztctl.core.credential.xǁCredentialǁ*",
            "ztctl.core.credential.x_rfc3339__*",
            "ztctl.core.credential.x_token_claims__*",
            "ztctl.core.credential.x__number__*",
            "ztctl.core.credential.x_expires_at__*",
            "ztctl.core.credential.x_identity__*",
            "ztctl.core.credential.x_token_problem__*",
            "ztctl.core.credential.x_exec_request__*",
            "ztctl.core.credential.x__valid_name__*",
            "ztctl.core.credential.x__answer__*",
            "ztctl.adapters.execcred.x_exec_info__*",
            "ztctl.adapters.execcred.x_parse_exec_output__*",
            "ztctl.adapters.execcred.x_parse_rfc3339__*",
            "ztctl.adapters.execcred.xǁPluginCredentialǁ*",
        ),
    ),
    # The audit log: each event's fields, the durable append, reading torn and glued lines.
    "audit": Target(
        modules=("ztctl/core/audit.py", "ztctl/adapters/fs.py"),
        tests=(
            "tests/core/test_audit_rules.py",
            # the audit and private-directory tests of that file (not device or kubeconfig reads)
            "tests/core/test_hardening_files.py::test_a_short_audit_write_fails_closed_and_leaves_no_torn_line",
            "tests/core/test_hardening_files.py::test_a_write_that_stores_nothing_is_a_failure_too",
            "tests/core/test_hardening_files.py::test_an_unwritable_audit_log_is_a_typed_failure",
            "tests/core/test_hardening_files.py::test_readers_skip_a_torn_line_and_recover_an_event_glued_onto_it",
            "tests/core/test_hardening_files.py::test_a_loose_audit_log_is_tightened_to_0600",
            "tests/core/test_hardening_files.py::test_private_state_directories_are_0700_under_umask_000",
        ),
        only=(
            "ztctl.core.audit.*",
            "ztctl.adapters.fs.x_append_line_durably__*",
            "ztctl.adapters.fs.x__truncate_back__*",
            "ztctl.adapters.fs.x_ensure_private_dir__*",
            "ztctl.adapters.fs.x_make_dirs__*",
        ),
    ),
    # What keeps secrets off screens, logs and bundles: URL passwords, exec and VPN arguments,
    # the Cloudflare token, the doctor bundle's kubeconfig structure and final scrub.
    "redaction": Target(
        modules=(
            "ztctl/core/redact.py",
            "ztctl/core/catalog_parse.py",
            "ztctl/adapters/socks.py",
            "ztctl/adapters/routes_bg.py",
            "ztctl/adapters/warp/client.py",
            "ztctl/adapters/cloudflare.py",
            "ztctl/core/doctor/server.py",
            "ztctl/core/bundle.py",
        ),
        tests=(
            "tests/core/test_redaction_rules.py",
            "tests/adapters/test_routes_bg.py::test_vpn_commands_are_shown_shell_quoted_with_secrets_redacted",
            "tests/adapters/test_socks.py::test_parse_proxy_url_keeps_the_password_out_of_repr_and_display",
            "tests/adapters/test_cloudflare.py::test_scrub_removes_the_token_and_its_escaped_pieces",
            "tests/core/test_doctor_bundle.py::test_scrubber_patterns",
            "tests/core/test_doctor_bundle.py::test_secret_exec_arguments_are_replaced",
            "tests/core/test_doctor_bundle.py::test_positional_exec_arguments_are_replaced",
            "tests/core/test_probe_rules.py::test_route_labels",
            "tests/core/test_hardening_catalog.py::test_userinfo_in_the_server_is_refused_and_never_echoed",
            "tests/core/test_hardening_catalog.py::test_a_proxy_password_is_not_echoed_in_a_problem",
        ),
        only=(
            "ztctl.core.redact.*",
            "ztctl.core.catalog_parse.x_redact_url__*",
            "ztctl.adapters.socks.x_redact_url__*",
            "ztctl.adapters.routes_bg.x_redact_argv__*",
            "ztctl.adapters.routes_bg.x_shown_command__*",
            "ztctl.adapters.warp.client.x__redact__*",
            "ztctl.adapters.cloudflare.x_scrub__*",
            "ztctl.adapters.cloudflare.x__pieces__*",
            "ztctl.adapters.cloudflare.x__scrub__*",
            "ztctl.core.doctor.server.x__scrubbed__*",
            "ztctl.core.bundle.xǁScrubberǁ*",
            "ztctl.core.bundle.x__redact_url__*",
            "ztctl.core.bundle.x__scrub_userinfo__*",
            "ztctl.core.bundle.x__exec_args__*",
            "ztctl.core.bundle.x__user_structure__*",
            "ztctl.core.bundle.x__extension_names__*",
            "ztctl.core.bundle.x_kubeconfig_structure__*",
            "ztctl.core.bundle.x__environment__*",
        ),
    ),
}


_PLAIN_IDS = """

try:  # added by bench/mutation.py: a mutated, niced run is slow; no per-example deadline
    from hypothesis import settings as _settings

    _settings.register_profile("mutation", deadline=None)
    _settings.load_profile("mutation")
except ImportError:
    pass


def pytest_make_parametrize_id(config, val, argname):  # added by bench/mutation.py
    import re as _re

    if not isinstance(val, str) or _re.fullmatch(r"[A-Za-z0-9_.,@+=/ -]*", val):
        return None
    return _re.sub(r"[^A-Za-z0-9_.,@+=/ -]", "_", val)
"""


def _undecorate(path: Path, decorator: str) -> None:
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(rf"^@{re.escape(decorator)}\ndef (\w+)\(", re.MULTILINE)
    names = pattern.findall(text)
    text = pattern.sub(lambda m: f"def {m.group(1)}__body(", text)
    text += "".join(f"\n{name} = {decorator}({name}__body)" for name in names) + "\n"
    path.write_text(text, encoding="utf-8")


def _toml_list(items: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def _prepare(name: str, target: Target) -> Path:
    work = OUT / f"work-{name}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")
    shutil.copytree(ROOT / "ztctl", work / "ztctl", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    # Some tests read the docs (e.g. the sample catalog): copy them and let mutmut copy them on.
    extras = [name for name in ("docs", "completions", "README.md") if (ROOT / name).exists()]
    for name in extras:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, work / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, work / name)
    for module, decorator in target.undecorate:
        _undecorate(work / module, decorator)
    # mutmut hands node ids back to pytest, which cannot find an id with a backslash escape
    # (a newline or non-ASCII in a table row); in the scratch copy only, ids are made plain
    # and hypothesis has no deadline per example.
    with (work / "tests" / "conftest.py").open("a", encoding="utf-8") as conftest:
        conftest.write(_PLAIN_IDS)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["ztctl"]\n'
        f"also_copy = {_toml_list(extras)}\n"
        f"only_mutate = {_toml_list(target.modules)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(target.tests)}\n"
        "pytest_add_cli_args = "
        f"{_toml_list(['-p', 'no:xdist', '-p', 'no:cacheprovider', '-q', *target.pytest_args])}\n"
    )
    (work / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    return work


def _mutmut(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, "-m", "mutmut", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import get_diff_for_mutant
out = {}
for name in json.load(sys.stdin):
    try:
        out[name] = get_diff_for_mutant(name)
    except Exception as exc:  # report what could not be shown rather than stop
        out[name] = f"(no diff: {exc})"
json.dump(out, sys.stdout)
"""


def _diffs(work: Path, mutants: list[str]) -> dict[str, str]:
    """Each mutant's diff, from one process (`mutmut show` per mutant is slow)."""
    if not mutants:
        return {}
    proc = subprocess.run(
        [sys.executable, "-c", _DIFFS],
        cwd=work,
        input=json.dumps(mutants),
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        found: dict[str, str] = json.loads(proc.stdout)
    except ValueError:
        found = {}
    return {m: found.get(m, f"(no diff: {proc.stderr.strip()[-300:]})") for m in mutants}


def _wanted(mutant: str, target: Target) -> bool:
    return not target.only or any(fnmatch.fnmatchcase(mutant, glob) for glob in target.only)


def run_target(name: str, target: Target, jobs: int) -> dict[str, object]:
    commit = _commit()  # what the scratch copy is taken from
    work = _prepare(name, target)
    (work / "COMMIT").write_text(commit, encoding="utf-8")
    started = time.monotonic()
    run = _mutmut(work, "run", "--max-children", str(jobs), *target.only)
    elapsed = time.monotonic() - started
    report = collect(name, target, work, seconds=round(elapsed), output=run.stdout + run.stderr)
    shutil.rmtree(work, ignore_errors=True)
    return report


def collect(
    name: str, target: Target, work: Path, *, seconds: int | None, output: str = ""
) -> dict[str, object]:
    """Write the report of the mutants of ``work``; those not checked yet (a run stopped
    early: ``--report``) are left out of the score and counted apart."""
    listing = _mutmut(work, "results", "--all", "true")
    statuses: dict[str, str] = {}
    for line in listing.stdout.splitlines():
        mutant, sep, status = line.strip().rpartition(": ")
        if sep and "__mutmut_" in mutant and _wanted(mutant, target):
            statuses[mutant] = status
    counts = Counter(statuses.values())
    unchecked = counts["not checked"]
    if not statuses or unchecked == len(statuses):
        raise SystemExit(f"mutmut checked no mutant of {name}:\n{output[-3000:]}")
    checked = len(statuses) - unchecked
    killed = counts["killed"] + counts["timeout"]
    survivors = sorted(
        m for m, s in statuses.items() if s not in ("killed", "timeout", "not checked")
    )
    diffs = _diffs(work, survivors)
    commit_file = work / "COMMIT"
    report: dict[str, object] = {
        "target": name,
        "modules": list(target.modules),
        "tests": list(target.tests),
        "only": list(target.only),
        "commit": commit_file.read_text(encoding="utf-8") if commit_file.exists() else "?",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": seconds,
        "total": len(statuses),
        "checked": checked,
        "killed": killed,
        "score": round(100.0 * killed / checked, 1),
        "partial": unchecked > 0,
        "counts": dict(counts),
        "survivors": {m: statuses[m] for m in survivors},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    scope = f"killed ({unchecked} more not reached yet)" if unchecked else "killed"
    lines = [
        f"# mutation: {name}",
        "",
        f"{killed}/{checked} {scope} = {report['score']}% "
        f"(commit {report['commit']}, {report['date']}, {seconds} s)",
        "",
        f"counts: {dict(counts)}",
        "",
    ]
    for mutant in survivors:
        lines += [
            f"## {mutant}: {statuses[mutant]}",
            "",
            "```diff",
            diffs[mutant].strip(),
            "```",
            "",
        ]
    (OUT / f"{name}.md").write_text("\n".join(lines), encoding="utf-8")
    return report


def _commit() -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False
        )
        return proc.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "ztctl", "tests")
    return f"{head}+changes" if dirty else head


def _table(names: list[str]) -> str:
    rows = [
        "| Target | Modules | Killed | Score | Commit | Date |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        path = OUT / f"{name}.json"
        if not path.exists():
            rows.append(f"| {name} | | not run | | | |")
            continue
        r = json.loads(path.read_text(encoding="utf-8"))
        modules = ", ".join(f"`{m.removeprefix('ztctl/')}`" for m in r["modules"])
        checked = r.get("checked", r["total"])
        partial = f" (partial: {r['total'] - checked} not reached)" if checked < r["total"] else ""
        rows.append(
            f"| {name} | {modules} | {r['killed']}/{checked}{partial} | {r['score']}% "
            f"| {r['commit']} | {r['date']} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help=f"default: all of {', '.join(TARGETS)}")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument(
        "--table", action="store_true", help="print the scores of the last runs as Markdown"
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="write the reports of runs stopped early (their scratch copies) without running",
    )
    args = parser.parse_args(argv)
    if args.table:
        print(_table(args.targets or list(TARGETS)))
        return 0
    if args.report:
        for name in args.targets or list(TARGETS):
            work = OUT / f"work-{name}"
            if work.exists():
                report = collect(name, TARGETS[name], work, seconds=None)
                print(f"{name:<18} {report['killed']}/{report['checked']} ({report['score']}%)")
        return 0
    names = args.targets or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    if shutil.which("mutmut") is None and not (Path(sys.executable).parent / "mutmut").exists():
        parser.error("mutmut is not installed: pip install -e '.[mutation]'")
    for name in names:
        report = run_target(name, TARGETS[name], args.jobs)
        print(
            f"{name:<12} {report['killed']:>4}/{report['total']:<4} killed "
            f"{report['score']:>5}%  ({report['seconds']} s)  → bench/results/mutation/{name}.md"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
