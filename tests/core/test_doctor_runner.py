"""The doctor runner: dependencies, skip naming the root failure, per-check timeout, the
global deadline, crashes, and the single-flight facts memo."""

from __future__ import annotations

import threading
import time

import pytest

from ztctl.core.doctor.runner import (
    Check,
    Facts,
    Outcome,
    check_key,
    failed,
    passed,
    run_checks,
    skipped,
    warned,
)
from ztctl.errors import OperationFailed


def const(outcome: Outcome):  # type: ignore[no-untyped-def]
    return lambda: outcome


def by_key(report):  # type: ignore[no-untyped-def]
    return {r.key: r for r in report.results}


def test_results_keep_the_given_order_and_carry_the_contract_fields() -> None:
    checks = [
        Check("b.two", "Two", const(passed("fine", {"x": 1}))),
        Check("a.one", "One", const(warned("meh", "do this"))),
        Check("c.three", "Three", const(failed("broken", "fix it")), cluster="prod"),
    ]
    report = run_checks(checks, timeout=2)
    assert [r.key for r in report.results] == ["b.two", "a.one", "c.three@prod"]
    doc = report.results[2].to_dict()
    assert set(doc) == {"id", "title", "status", "summary", "fix", "cluster", "durationMs", "data"}
    assert doc["cluster"] == "prod" and doc["status"] == "fail" and doc["fix"] == "fix it"
    assert report.results[0].data == {"x": 1}
    assert not report.ok


def test_warnings_alone_are_ok() -> None:
    report = run_checks([Check("a", "A", const(warned("meh")))], timeout=1)
    assert report.ok


def test_a_failure_skips_what_needs_it_naming_the_root() -> None:
    checks = [
        Check("net.tcp", "TCP", const(failed("no answer from 10.0.0.1", "fix the path"))),
        Check("net.tls", "TLS", const(passed("never")), after=("net.tcp",)),
        Check("net.api", "API", const(passed("never")), after=("net.tls",)),
        Check("other", "Other", const(passed("independent"))),
    ]
    results = by_key(run_checks(checks, timeout=2))
    assert results["net.tls"].status == "skip"
    assert "net.tcp failed" in results["net.tls"].summary
    assert "no answer from 10.0.0.1" in results["net.tls"].summary
    # two levels down, the root failure is still the one named
    assert results["net.api"].status == "skip"
    assert "net.tcp failed" in results["net.api"].summary
    assert results["net.api"].data["skippedBecause"] == "net.tcp"
    assert results["other"].status == "pass"


def test_a_voluntary_skip_does_not_skip_dependents() -> None:
    checks = [
        Check("a", "A", const(skipped("nothing to do here"))),
        Check("b", "B", const(passed("ran")), after=("a",)),
    ]
    assert by_key(run_checks(checks, timeout=2))["b"].status == "pass"


def test_a_skip_naming_an_earlier_failure_propagates() -> None:
    checks = [
        Check(
            "a",
            "A",
            const(
                Outcome(
                    "skip", "skipped: dns failed", "", {"skippedBecause": "dns", "rootSummary": "x"}
                )
            ),
        ),
        Check("b", "B", const(passed("ran")), after=("a",)),
    ]
    b = by_key(run_checks(checks, timeout=2))["b"]
    assert b.status == "skip" and "dns failed" in b.summary


def test_a_check_that_hangs_fails_at_its_timeout_and_the_rest_finish() -> None:
    release = threading.Event()

    def hang() -> Outcome:
        release.wait(30)
        return passed("too late")

    checks = [
        Check("slow", "Slow", hang),
        Check("after", "After", const(passed("never")), after=("slow",)),
        Check("quick", "Quick", const(passed("fine"))),
    ]
    try:
        results = by_key(run_checks(checks, timeout=0.2, deadline=10))
    finally:
        release.set()
    assert results["slow"].status == "fail"
    assert "did not finish within 0.2s" in results["slow"].summary
    assert results["slow"].data["timedOut"] is True
    assert results["after"].status == "skip" and "slow failed" in results["after"].summary
    assert results["quick"].status == "pass"


def test_the_global_deadline_stops_everything_unfinished() -> None:
    release = threading.Event()

    def hang() -> Outcome:
        release.wait(30)
        return passed("too late")

    checks = [
        Check("a", "A", hang),
        Check("b", "B", const(passed("never")), after=("a",)),
    ]
    try:
        report = run_checks(checks, timeout=30, deadline=0.2)
    finally:
        release.set()
    results = by_key(report)
    assert report.deadline_hit
    assert results["a"].status == "fail" and "deadline" in results["a"].summary
    assert results["b"].status == "skip" and "deadline" in results["b"].summary


def test_doctor_run_concurrently() -> None:
    """Four checks that each wait for all four to have started: only concurrency passes."""
    barrier = threading.Barrier(4, timeout=5)

    def meet() -> Outcome:
        barrier.wait()
        return passed("met")

    checks = [Check(f"c{i}", "C", meet) for i in range(4)]
    assert all(r.status == "pass" for r in run_checks(checks, timeout=10).results)


def test_errors_become_failures_with_a_fix() -> None:
    def known() -> Outcome:
        raise OperationFailed("the thing broke", "do the other thing")

    def bug() -> Outcome:
        raise KeyError("oops")

    results = by_key(run_checks([Check("known", "K", known), Check("bug", "B", bug)], timeout=2))
    assert results["known"].status == "fail"
    assert results["known"].summary == "the thing broke"
    assert results["known"].fix == "do the other thing"
    assert results["bug"].status == "fail" and "KeyError" in results["bug"].summary
    assert "report" in results["bug"].fix


def test_on_result_sees_every_result_once() -> None:
    seen: list[str] = []
    checks = [Check(f"c{i}", "C", const(passed("ok"))) for i in range(5)]
    run_checks(checks, timeout=2, on_result=lambda r: seen.append(r.key))
    assert sorted(seen) == [f"c{i}" for i in range(5)]


def test_bad_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        run_checks([Check("a", "A", const(passed("")), after=("nope",))], timeout=1)
    with pytest.raises(ValueError, match="share a key"):
        run_checks(
            [Check("a", "A", const(passed(""))), Check("a", "A", const(passed("")))], timeout=1
        )
    with pytest.raises(ValueError):
        Outcome("great", "")


def test_check_key() -> None:
    assert check_key("cluster.tcp", "prod") == "cluster.tcp@prod"
    assert check_key("warp.cli") == "warp.cli"


def test_facts_compute_once_for_concurrent_callers() -> None:
    facts = Facts()
    calls: list[int] = []
    gate = threading.Event()

    def compute() -> int:
        calls.append(1)
        gate.wait(5)
        return 42

    out: list[int] = []
    threads = [
        threading.Thread(target=lambda: out.append(facts.get("k", compute))) for _ in range(5)
    ]
    for t in threads:
        t.start()
    time.sleep(0.05)
    gate.set()
    for t in threads:
        t.join(5)
    assert out == [42] * 5 and len(calls) == 1
    assert facts.peek("k") == 42 and facts.peek("missing") is None


def test_facts_share_the_exception_too() -> None:
    facts = Facts()

    def boom() -> int:
        raise RuntimeError("once")

    for _ in range(2):
        with pytest.raises(RuntimeError, match="once"):
            facts.get("k", boom)
    assert facts.peek("k") is None


def test_a_root_summary_is_cut_at_a_word_boundary() -> None:
    from ztctl.core.doctor.runner import _short

    text = "could not ask the Cloudflare API: " + "service temporarily unavailable " * 5
    short = _short(text, 60)
    assert len(short) <= 60 and short.endswith("…")
    assert short[:-1] == text[: len(short) - 1].rstrip()
    assert text[len(short) - 1] == " "  # the word before the ellipsis is whole
    assert _short("short enough", 60) == "short enough"
