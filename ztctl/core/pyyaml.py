"""PyYAML, imported without compiling its regular expressions up front.

Importing ``yaml`` compiles about a dozen patterns at class-creation time; one of them, the
pure-Python reader's ``NON_PRINTABLE`` (a character class over all of Unicode), alone costs
~58 M instructions — about 8 ms, a sixth of ``ztctl clusters``. ztctl parses with libyaml
(``CSafeLoader``), whose C reader never uses it, and most of the others are needed only when a
plain scalar is resolved. So while ``yaml`` is first imported, a pattern compiled by a
``yaml.*`` module becomes a :class:`DeferredPattern` that compiles on first use; everything
else is untouched, and ``re.compile`` is restored before this module finishes.

Use ``from ztctl.core.pyyaml import yaml`` where ztctl would ``import yaml``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

_compile = re.compile


class DeferredPattern:
    """A compiled pattern made on first attribute access (``.match``, ``.search``...)."""

    __slots__ = ("_args", "_pattern")

    def __init__(self, pattern: Any, flags: Any) -> None:
        self._args = (pattern, flags)
        self._pattern: re.Pattern[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        pattern = self._pattern
        if pattern is None:
            pattern = self._pattern = _compile(*self._args)
        return getattr(pattern, name)


def _compile_deferring_yaml(pattern: Any, flags: Any = 0) -> Any:
    caller = sys._getframe(1).f_globals.get("__name__", "")
    if caller == "yaml" or caller.startswith("yaml."):
        return DeferredPattern(pattern, flags)
    return _compile(pattern, flags)


def _import_yaml() -> Any:
    if "yaml" in sys.modules:
        return sys.modules["yaml"]
    re.compile = _compile_deferring_yaml
    try:
        import yaml as module
    finally:
        re.compile = _compile
    return module


yaml = _import_yaml()
