"""PyYAML imported through ztctl.core.pyyaml: its patterns compile on first use, and work."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_patterns_are_compiled_only_when_used() -> None:
    out = run(
        """
        import re
        from ztctl.core.pyyaml import DeferredPattern, yaml
        reader = yaml.reader.Reader
        print(type(reader.NON_PRINTABLE) is DeferredPattern, reader.NON_PRINTABLE._pattern)
        print(re.compile.__module__, type(re.compile("a")).__name__)
        """
    )
    assert out.splitlines() == ["True None", "re Pattern"]


def test_the_pure_python_reader_still_refuses_non_printable_characters() -> None:
    out = run(
        """
        from ztctl.core.pyyaml import yaml
        print(yaml.load("a: 1\\nb: [x, yes, 2020-01-01]", Loader=yaml.SafeLoader))
        try:
            yaml.load("a: \\x07", Loader=yaml.SafeLoader)
        except yaml.reader.ReaderError as exc:
            print("refused", "#x0007" in str(exc))
        """
    )
    assert out.splitlines() == [
        "{'a': 1, 'b': ['x', True, datetime.date(2020, 1, 1)]}",
        "refused True",
    ]


def test_libyaml_parses_as_before() -> None:
    from ztctl.core.pyyaml import yaml

    assert yaml.load("k: [1, on, '2']", Loader=yaml.CSafeLoader) == {"k": [1, True, "2"]}
