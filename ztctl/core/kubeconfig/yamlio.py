"""YAML as kubectl sees it: parse with positions, type like Go, emit what Go reads back.

kubectl decodes a kubeconfig with ``sigs.k8s.io/yaml`` (a fork of go-yaml v2: YAML 1.1
scalars) into JSON and then into Go structs. PyYAML's resolver is close but not the same:
``y``/``n`` are booleans in Go and strings in PyYAML, ``1e3`` and ``0o17`` are numbers in Go
and strings in PyYAML, ``12:30`` and ``2020-01-01`` are strings in Go and an int and a date
in PyYAML. Types matter because a number where Go expects a string is a load error in
kubectl. So this module composes the document with libyaml (keeping every node's position,
for splicing) and turns plain scalars into values with go-yaml v2's rules itself.

The emitter writes block YAML in the layout kubectl writes (two-space indent, sequences
not indented under their key) and quotes every string Go could read as something else.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# First: the one way ztctl imports PyYAML (see ztctl.core.pyyaml).
from ztctl.core.pyyaml import yaml  # isort: split

# The node classes, also for the editor and the file reader: import them from here.
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Sentinel tags returned by our resolver: identity-compared, so they must be these objects.
_PLAIN = "!ztctl-plain"
_QUOTED = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

try:  # libyaml: ~10x faster; the pure-Python parser gives the same nodes and marks
    _BaseLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _BaseLoader = yaml.SafeLoader


class _Loader(_BaseLoader):
    """Compose only; tag every plain scalar ``_PLAIN`` and resolve it later, Go's way."""

    def __init__(self, stream: bytes | str) -> None:
        super().__init__(stream)
        # The composer calls these for every node; there are no path resolvers, so C
        # builtins that accept the same arguments and do nothing save ~15% of the time.
        self.descend_resolver: Any = {}.get
        self.ascend_resolver: Any = [].clear

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _QUOTED
        return _MAP if kind is MappingNode else _SEQ


class YamlProblem(Exception):
    """The text is not YAML that kubectl can load; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, *, several: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        # Valid YAML with more than one document: kubectl (1.32) loads the first and
        # ignores the rest; ztctl refuses to edit it (see files.read_file).
        self.several = several


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (reentrant).

    A 5,000-entry kubeconfig is ~10^6 small objects (nodes, marks, values); while they are
    alive every allocation-triggered full collection walks them all, which made loading and
    planning 3-5x slower. Nothing here creates cycles worth collecting early.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compose(data: bytes | str) -> Node | None:
    """The document's node tree (``None`` for an empty document), or :class:`YamlProblem`."""
    with gc_paused():
        loader = _Loader(data)
        try:
            return loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or str(exc)
            line = mark.line + 1 if mark else None
            if exc.context and "single document" in str(exc.context):
                raise YamlProblem(
                    "it holds more than one YAML document", line, several=True
                ) from None
            raise YamlProblem(problem, line) from None
        except yaml.YAMLError as exc:
            raise YamlProblem(str(exc)) from None
        finally:
            loader.dispose()


def parse(data: bytes | str) -> tuple[Any, Node | None]:
    """``(value, root node)`` with Go's typing; an empty document is ``None``."""
    root = compose(data)
    if root is None:
        return None, None
    with gc_paused():
        return to_python(root), root


# --- Go (yaml.v2) scalar resolution ---------------------------------------------------

_WORDS: dict[str, Any] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON"), True),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF"), False),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_NON_FINITE = frozenset(
    [f"{sign}.{word}" for sign in ("", "+", "-") for word in ("inf", "Inf", "INF")]
    + [".nan", ".NaN", ".NAN"]
)
_NUMERIC_START = frozenset("+-.0123456789")
_INT_RE = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)\Z")
_FLOAT_RE = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")


class _NonFinite(Exception):
    pass


def resolve_plain(value: str) -> Any:
    """What go-yaml v2 makes of an untagged plain scalar (timestamps stay strings)."""
    if value in _WORDS:
        return _WORDS[value]
    if not value or value[0] not in _NUMERIC_START:
        return value
    if value in _NON_FINITE:
        raise _NonFinite(value)
    digits = value if value[0] == "." else value.replace("_", "")
    if _INT_RE.match(digits):
        sign = -1 if digits[0] == "-" else 1
        body = digits.lstrip("+-")
        if len(body) > 1 and body[0] == "0" and body[1] in "0123456789":
            return sign * int(body, 8)
        return sign * int(body, 0)
    if _FLOAT_RE.match(digits):
        number = float(digits)
        # Go's ParseFloat fails on overflow, and go-yaml then keeps the string
        return value if number in (float("inf"), float("-inf")) else number
    return value


def to_python(node: Node) -> Any:
    """Node tree → dict/list/str/int/float/bool/None, as the JSON kubectl decodes.

    Mapping keys become strings (Go's YAML → JSON conversion does the same); ``<<`` merge
    keys are applied; a tag other than the scalar core tags is ignored, as go-yaml does.
    """
    try:
        return _conv(node)
    except _NonFinite as exc:
        raise YamlProblem(
            f"the value {exc.args[0]!r} is not a finite number (kubectl cannot load it)"
        ) from None
    except RecursionError:
        raise YamlProblem("the document nests too deeply") from None


def _conv(node: Node) -> Any:
    cls = node.__class__
    if cls is ScalarNode:
        tag = node.tag
        if tag is _PLAIN:
            return resolve_plain(node.value)
        if tag is _QUOTED or tag in ("tag:yaml.org,2002:str", "!", "tag:yaml.org,2002:binary"):
            return node.value
        return resolve_plain(node.value)
    if cls is MappingNode:
        out: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.__class__ is not ScalarNode:
                raise YamlProblem(
                    "a mapping key is a list or a mapping", key_node.start_mark.line + 1
                )
            key = key_node.value
            if key == "<<" and key_node.tag is _PLAIN:
                merges.append(value_node)
                continue
            out[key] = _conv(value_node)
        if merges:
            out = _merged(merges, out)
        return out
    return [_conv(item) for item in node.value]


def _merged(merges: list[Node], explicit: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {}
    sources: list[Node] = []
    for merge in merges:
        sources.extend(merge.value if isinstance(merge, SequenceNode) else [merge])
    for source in reversed(sources):  # earlier sources take precedence
        value = _conv(source)
        if not isinstance(value, dict):
            raise YamlProblem("a << merge key must refer to a mapping", source.start_mark.line + 1)
        base.update(value)
    base.update(explicit)
    return base


# --- emitting -----------------------------------------------------------------------

# A string that may stay plain: starts with a letter, '_' or '/', then no character
# with a meaning in YAML; ':' only inside (never before a space or at the end).
_SAFE_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+=~%-]*(?::[A-Za-z0-9_./@+=~%-]+)*\Z")
_ESCAPES = {
    **{c: f"\\x{c:02x}" for c in range(0x20)},
    **{c: f"\\x{c:02x}" for c in range(0x7F, 0xA0)},
    0x09: "\\t",
    0x0A: "\\n",
    0x0D: "\\r",
    0x22: '\\"',
    0x5C: "\\\\",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
    0xFEFF: "\\ufeff",
    0xFFFE: "\\ufffe",
    0xFFFF: "\\uffff",
    **{c: f"\\u{c:04x}" for c in range(0xD800, 0xE000)},
}


def quote(value: str) -> str:
    """``value`` as a YAML scalar that both libyaml and go-yaml read back as this string."""
    if value not in _WORDS and _SAFE_PLAIN.match(value):
        return value
    return '"' + value.translate(_ESCAPES) + '"'


def scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot emit {type(value).__name__}")


def _inline(value: Any) -> str | None:
    if isinstance(value, dict):
        return None if value else "{}"
    if isinstance(value, list):
        return None if value else "[]"
    return scalar(value)


def emit_mapping(mapping: dict[str, Any], indent: int, lines: list[str], sort: bool) -> None:
    pad = " " * indent
    for key in sorted(mapping) if sort else mapping:
        value = mapping[key]
        text = _inline(value)
        if text is not None:
            lines.append(f"{pad}{quote(key)}: {text}")
        elif isinstance(value, dict):
            lines.append(f"{pad}{quote(key)}:")
            emit_mapping(value, indent + 2, lines, sort)
        else:
            lines.append(f"{pad}{quote(key)}:")
            emit_sequence(value, indent, lines, sort)


def emit_sequence(items: list[Any], indent: int, lines: list[str], sort: bool) -> None:
    pad = " " * indent
    for item in items:
        text = _inline(item)
        if text is not None:
            lines.append(f"{pad}- {text}")
            continue
        sub: list[str] = []
        if isinstance(item, dict):
            emit_mapping(item, indent + 2, sub, sort)
        else:
            emit_sequence(item, indent + 2, sub, sort)
        sub[0] = f"{pad}- {sub[0][indent + 2 :]}"
        lines.extend(sub)


def dump_document(mapping: dict[str, Any], *, sort: bool = False) -> str:
    """A whole document in block style (``{}`` when empty)."""
    if not mapping:
        return "{}\n"
    lines: list[str] = []
    emit_mapping(mapping, 0, lines, sort)
    return "\n".join(lines) + "\n"


def dump_items(items: list[Any], indent: int, *, sort: bool = True) -> str:
    """Sequence items (``- ...`` lines) at ``indent``, ending with a newline."""
    lines: list[str] = []
    emit_sequence(items, indent, lines, sort)
    return "\n".join(lines) + "\n"
