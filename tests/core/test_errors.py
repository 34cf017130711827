"""The error model: one JSON shape for errors and problems, kinds and phases as plain words."""

from __future__ import annotations

import json

import pytest

from ztctl.errors import (
    EXIT_AUTH_NEEDED,
    EXIT_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_UNREACHABLE,
    AuthNeeded,
    InvalidInput,
    OperationFailed,
    Unreachable,
    error_for,
)
from ztctl.problems import PATH_KINDS, FailureKind, Phase, Problem


def test_kinds_and_phases_serialise_as_their_words() -> None:
    problem = Problem(FailureKind.TLS_INSPECTION, "m", "f", EXIT_UNREACHABLE, Phase.TLS)
    text = json.dumps(problem.to_dict())
    assert text == (
        '{"code": 5, "kind": "tls-inspection", "phase": "tls", "message": "m", "fix": "f"}'
    )
    assert json.dumps(problem.to_dict(), indent=2) == json.dumps(json.loads(text), indent=2)
    assert f"{problem.kind}/{problem.phase}" == "tls-inspection/tls"
    assert str(Phase.NONE) == "" and f"[{Phase.NONE:>3}]" == "[   ]"


def test_an_error_has_the_same_shape_without_a_phase() -> None:
    error = InvalidInput("bad", "fix it", details=["a", "b"])
    assert list(error.to_dict()) == ["code", "kind", "message", "fix", "details"]
    assert error.to_dict()["code"] == EXIT_INVALID_INPUT
    assert "details" not in OperationFailed("x").to_dict()


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (EXIT_INVALID_INPUT, InvalidInput),
        (EXIT_AUTH_NEEDED, AuthNeeded),
        (EXIT_UNREACHABLE, Unreachable),
        (EXIT_FAILED, OperationFailed),
        (42, OperationFailed),
    ],
)
def test_a_problem_becomes_the_error_of_its_exit_code(code: int, kind: type) -> None:
    problem = Problem(FailureKind.FAILED, "m", "f", code)
    error = problem.error()
    assert type(error) is kind and (error.message, error.fix) == ("m", "f")
    assert type(error_for(code, "m", "f")) is kind


def test_kind_sets_hold_the_plain_words_too() -> None:
    """Doctor's JSON data carries the kind as a string; it must still match the sets."""
    assert "timeout" in PATH_KINDS and FailureKind("reset") in PATH_KINDS
    assert "refused" not in PATH_KINDS
