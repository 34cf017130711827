"""Change a kubeconfig file the least possible: splice, verify, or rewrite.

kubectl re-serializes a whole file to change one line, dropping comments, unknown fields
and the author's layout. ztctl instead replaces, removes or inserts only the text of the
entries it changes (found by the positions libyaml reports), and leaves every other byte
alone. Each result is parsed again and compared with the intended document; if splicing
is not possible (flow style, anchors, odd indentation) or the check fails, the file is
rewritten whole from the intended document, which keeps every foreign entry and unknown
field semantically unchanged (comments are lost then).
"""

from __future__ import annotations

import bisect
import difflib
from dataclasses import dataclass
from typing import Any

from ztctl.core.kubeconfig.files import BOM, KubeconfigFile
from ztctl.core.kubeconfig.yamlio import (
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    YamlProblem,
    dump_document,
    dump_items,
    parse,
    quote,
)


class _Unsupported(Exception):
    """The text cannot be spliced safely; rewrite the file instead."""


@dataclass(frozen=True)
class Edit:
    start: int  # character offsets into the old text
    end: int
    text: str


@dataclass(frozen=True)
class EditedFile:
    """A file's new content, not yet written."""

    file: KubeconfigFile
    text: str
    data: dict[str, Any]
    method: str  # "splice" (only changed entries touched) or "rewrite" (whole file)
    edits: tuple[Edit, ...]

    @property
    def content(self) -> bytes:
        return ((BOM if self.file.bom else "") + self.text).encode("utf-8")

    def diff(self, context: int = 3) -> str:
        """A unified diff (``a/<path>`` → ``b/<path>``), empty when nothing changes."""
        path = str(self.file.path)
        old_label = f"a{path}" if path.startswith("/") else f"a/{path}"
        new_label = f"b{path}" if path.startswith("/") else f"b/{path}"
        if not self.file.exists:
            old_label = "/dev/null"
        return unified_diff(self.file.text, self.text, self.edits, old_label, new_label, context)


def _line_start(text: str, pos: int) -> int:
    return text.rfind("\n", 0, pos) + 1


def _line_end(text: str, pos: int) -> int:
    """The end of the line holding the character before ``pos`` (its newline included)."""
    if pos > 0 and text[pos - 1] == "\n":
        return pos
    found = text.find("\n", pos)
    return len(text) if found < 0 else found + 1


def _content_end(node: Node) -> int:
    """Offset just after the node's last token (comments and blank lines after it excluded)."""
    while True:
        if isinstance(node, ScalarNode) or getattr(node, "flow_style", False) or not node.value:
            return int(node.end_mark.index)
        if isinstance(node, MappingNode):
            key, value = node.value[-1]
            if isinstance(value, ScalarNode) and value.value == "" and not value.style:
                return max(int(key.end_mark.index), int(value.end_mark.index))
            node = value
        else:
            node = node.value[-1]


class FileEditor:
    """Collects changes to one file, then builds its new text (:meth:`build`)."""

    def __init__(self, file: KubeconfigFile) -> None:
        self.file = file
        self._remove: dict[str, set[int]] = {}
        self._replace: dict[str, dict[int, Any]] = {}
        self._add: dict[str, list[Any]] = {}
        self._scalars: dict[str, str] = {}

    # -- operations ---------------------------------------------------------------

    def replace_item(self, key: str, index: int, item: dict[str, Any]) -> None:
        self._replace.setdefault(key, {})[index] = item

    def remove_item(self, key: str, index: int) -> None:
        self._remove.setdefault(key, set()).add(index)

    def add_item(self, key: str, item: dict[str, Any]) -> None:
        self._add.setdefault(key, []).append(item)

    def set_scalar(self, key: str, value: str) -> None:
        self._scalars[key] = value

    @property
    def touched(self) -> bool:
        return bool(self._remove or self._replace or self._add or self._scalars)

    # -- building -------------------------------------------------------------------

    def _list_keys(self) -> list[str]:
        keys = []
        for key in (*self._replace, *self._remove, *self._add):
            if key not in keys:
                keys.append(key)
        return keys

    def _insert_at(self, key: str, item: dict[str, Any]) -> int:
        """Before the first item whose name sorts after (kubectl keeps lists sorted)."""
        old = self.file.items(key)
        names = [it.get("name") if isinstance(it, dict) else None for it in old]
        if all(isinstance(n, str) for n in names):
            strings: list[str] = names  # type: ignore[assignment]
            if strings == sorted(strings):
                return bisect.bisect_right(strings, item.get("name") or "")
        return len(old)

    def _new_list(self, key: str) -> tuple[list[Any], dict[int, list[Any]]]:
        old = self.file.items(key)
        adds: dict[int, list[Any]] = {}
        for item in self._add.get(key, ()):
            adds.setdefault(self._insert_at(key, item), []).append(item)
        removed = self._remove.get(key, set())
        replaced = self._replace.get(key, {})
        new: list[Any] = []
        for index, item in enumerate(old):
            new.extend(adds.get(index, ()))
            if index in removed:
                continue
            new.append(replaced.get(index, item))
        new.extend(adds.get(len(old), ()))
        return new, adds

    def expected(self) -> dict[str, Any]:
        data = dict(self.file.data)
        for key in self._list_keys():
            data[key] = self._new_list(key)[0]
        data.update(self._scalars)
        return data

    def build(self) -> EditedFile | None:
        """The new text, or ``None`` when it would be identical to the old one."""
        if not self.touched:
            return None
        data = self.expected()
        if self.file.exists and data == self.file.data and self.file.text.strip():
            return None
        try:
            edits: list[Edit] | tuple[Edit, ...] = self._splice_edits()
            text = apply_edits(self.file.text, edits)
            if not self._verify(text, data):
                raise _Unsupported
            method = "splice"
        except _Unsupported:
            text = self._convert_newlines(dump_document(data))
            if not self._verify(text, data):  # pragma: no cover - the emitter is tested
                raise RuntimeError(f"cannot render {self.file.path} faithfully") from None
            edits = (Edit(0, len(self.file.text), text),)
            method = "rewrite"
        if text == self.file.text and self.file.exists:
            return None
        return EditedFile(self.file, text, data, method, tuple(edits))

    @staticmethod
    def _verify(text: str, expected: dict[str, Any]) -> bool:
        try:
            value, _root = parse(text)
        except YamlProblem:
            return False
        return (value or {}) == expected

    def _convert_newlines(self, text: str) -> str:
        return text.replace("\n", "\r\n") if self.file.newline == "\r\n" else text

    def _splice_edits(self) -> list[Edit]:
        text = self.file.text
        root = self.file.root
        nl = self._convert_newlines
        if root is None:
            if self.file.data:
                raise _Unsupported
            fresh: dict[str, Any] = {}
            for key in self._list_keys():
                fresh[key] = self._new_list(key)[0]
            fresh.update(self._scalars)
            ordered = {k: fresh[k] for k in sorted(fresh)}
            return [Edit(len(text), len(text), nl(dump_document(ordered)))]
        if not isinstance(root, MappingNode) or root.flow_style or root.start_mark.column != 0:
            raise _Unsupported
        pairs: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in root.value:
            if not isinstance(key_node, ScalarNode) or key_node.start_mark.column != 0:
                raise _Unsupported
            pairs[key_node.value] = (key_node, value_node)

        edits: list[Edit] = []
        appended: list[str] = []
        for key in self._list_keys():
            new_list, adds = self._new_list(key)
            value = pairs.get(key, (None, None))[1]
            if isinstance(value, SequenceNode) and not value.flow_style and value.value:
                if not new_list:
                    edits.append(Edit(*self._pair_span(*pairs[key]), nl(f"{quote(key)}: []\n")))
                else:
                    edits.extend(self._list_edits(key, value, adds))
                continue
            block = (
                f"{quote(key)}:\n{dump_items(new_list, 0, sort=False)}"
                if new_list
                else (f"{quote(key)}: []\n")
            )
            if key in pairs:
                edits.append(Edit(*self._pair_span(*pairs[key]), nl(block)))
            else:
                appended.append(block)
        for key, new_value in self._scalars.items():
            if key not in pairs:
                appended.append(f"{quote(key)}: {quote(new_value)}\n")
                continue
            key_node, value_node = pairs[key]
            line = key_node.start_mark.line
            if (
                isinstance(value_node, ScalarNode)
                and value_node.style in (None, "", "'", '"')
                and value_node.start_mark.line == line
                and value_node.end_mark.line == line
            ):
                start, end = value_node.start_mark.index, value_node.end_mark.index
                rendered = quote(new_value)
                if start == end and text[start - 1 : start] == ":":
                    rendered = " " + rendered
                edits.append(Edit(start, end, rendered))
            else:
                edits.append(
                    Edit(
                        *self._pair_span(key_node, value_node),
                        nl(f"{quote(key)}: {quote(new_value)}\n"),
                    )
                )
        if appended:
            at = _line_end(text, _content_end(root))
            edits.append(Edit(at, at, nl("".join(appended))))
        return edits

    def _pair_span(self, key_node: Node, value_node: Node) -> tuple[int, int]:
        text = self.file.text
        start = _line_start(text, key_node.start_mark.index)
        if text[start : key_node.start_mark.index].strip(" "):
            raise _Unsupported
        end = _line_end(text, max(_content_end(value_node), int(key_node.end_mark.index)))
        if end <= start:
            raise _Unsupported
        return start, end

    def _item_spans(self, seq: SequenceNode) -> list[tuple[int, int, int]]:
        text = self.file.text
        spans: list[tuple[int, int, int]] = []
        previous_end = 0
        for item in seq.value:
            at = item.start_mark.index - 1
            while at >= 0 and text[at] == " ":
                at -= 1
            if at < 0 or text[at] != "-":
                raise _Unsupported
            start = _line_start(text, at)
            if text[start:at].strip(" "):
                raise _Unsupported
            end = self._with_own_comments(_line_end(text, _content_end(item)), at - start)
            if start < previous_end or end <= at:
                raise _Unsupported
            spans.append((start, end, at - start))
            previous_end = end
        return spans

    def _with_own_comments(self, end: int, dash_column: int) -> int:
        """Extend an item over the comment lines after it indented deeper than its dash.

        After an item's last token only comments and blank lines can come before the next
        token, so these lines are comments that belong to the item.
        """
        text = self.file.text
        while end < len(text):
            stop = text.find("\n", end)
            line = text[end : len(text) if stop < 0 else stop + 1]
            stripped = line.lstrip(" ")
            if not stripped.startswith("#") or len(line) - len(stripped) <= dash_column:
                break
            end += len(line)
        return end

    def _list_edits(self, key: str, seq: SequenceNode, adds: dict[int, list[Any]]) -> list[Edit]:
        spans = self._item_spans(seq)
        indent = spans[0][2]
        nl = self._convert_newlines
        edits: list[Edit] = []
        for index, items in sorted(adds.items()):
            at = spans[index][0] if index < len(spans) else spans[-1][1]
            edits.append(Edit(at, at, nl(dump_items(items, indent, sort=False))))
        for index in sorted(self._remove.get(key, ())):
            start, end, _ = spans[index]
            edits.append(Edit(start, end, ""))
        for index, item in sorted(self._replace.get(key, {}).items()):
            start, end, _ = spans[index]
            edits.append(Edit(start, end, nl(dump_items([item], indent, sort=False))))
        return edits


def apply_edits(text: str, edits: list[Edit] | tuple[Edit, ...]) -> str:
    ordered = sorted(enumerate(edits), key=lambda pair: (pair[1].start, pair[1].end, pair[0]))
    out: list[str] = []
    pos = 0
    for _, edit in ordered:
        if edit.start < pos:
            raise _Unsupported
        out.append(text[pos : edit.start])
        piece = edit.text
        if (
            piece.endswith("\n")
            and edit.start > 0
            and edit.start == len(text)
            and text[edit.start - 1] != "\n"
        ):
            piece = ("\r\n" if piece.endswith("\r\n") else "\n") + piece
        out.append(piece)
        pos = edit.end
    out.append(text[pos:])
    return "".join(out)


# --- unified diff from the edits (no full-file matching for a 10 MB file) ------------


def unified_diff(
    old: str, new: str, edits: tuple[Edit, ...], old_label: str, new_label: str, context: int = 3
) -> str:
    """The unified diff between ``old`` and ``new = apply_edits(old, edits)``.

    Only the lines the edits touch are compared (with difflib), so the cost follows the
    size of the change, not of the file.
    """
    if old == new:
        return ""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    regions = _regions(old, edits)
    opcodes: list[tuple[Any, int, int, int, int]] = []
    a_pos = b_pos = 0
    for start, end, replacement in regions:
        a1 = old.count("\n", 0, start)
        a2 = a1 + old.count("\n", start, end) + (1 if end > start and old[end - 1] != "\n" else 0)
        b1 = a1 - a_pos + b_pos
        region_new = replacement.splitlines(keepends=True)
        b2 = b1 + len(region_new)
        if a1 > a_pos:
            opcodes.append(("equal", a_pos, a1, b_pos, b1))
        matcher = difflib.SequenceMatcher(None, old_lines[a1:a2], new_lines[b1:b2], autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            opcodes.append((tag, a1 + i1, a1 + i2, b1 + j1, b1 + j2))
        a_pos, b_pos = a2, b2
    if a_pos < len(old_lines) or b_pos < len(new_lines):
        opcodes.append(("equal", a_pos, len(old_lines), b_pos, len(new_lines)))
    matcher = difflib.SequenceMatcher(None, [], [])  # only its grouping of our opcodes
    matcher.opcodes = opcodes  # type: ignore[attr-defined]
    out = [f"--- {old_label}\n", f"+++ {new_label}\n"]
    for group in matcher.get_grouped_opcodes(context):
        first, last = group[0], group[-1]
        out.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                out.extend(_diff_line(" ", line) for line in old_lines[i1:i2])
                continue
            out.extend(_diff_line("-", line) for line in old_lines[i1:i2])
            out.extend(_diff_line("+", line) for line in new_lines[j1:j2])
    return "".join(out)


def _regions(old: str, edits: tuple[Edit, ...]) -> list[tuple[int, int, str]]:
    """Whole-line regions of ``old`` and their new text; edits sharing a line are merged."""
    groups: list[tuple[int, int, list[Edit]]] = []
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        start = _line_start(old, edit.start)
        end = edit.end if edit.end == edit.start == start else _line_end(old, edit.end)
        if groups and start < groups[-1][1]:
            g_start, g_end, members = groups[-1]
            groups[-1] = (g_start, max(g_end, end), [*members, edit])
        else:
            groups.append((start, end, [edit]))
    regions = []
    for start, end, members in groups:
        shifted = [Edit(e.start - start, e.end - start, e.text) for e in members]
        regions.append((start, end, apply_edits(old[start:end], shifted)))
    return regions


def _range(start: int, stop: int) -> str:
    length = stop - start
    first = start + 1
    if length == 1:
        return f"{first}"
    if not length:
        first -= 1
    return f"{first},{length}"


def _diff_line(prefix: str, line: str) -> str:
    if line.endswith("\n"):
        return prefix + line
    return f"{prefix}{line}\n\\ No newline at end of file\n"
