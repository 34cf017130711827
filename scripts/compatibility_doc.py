"""Generate docs/compatibility.md from the conformance corpus's INDEX files.

The conformance corpus is a folder of real outputs collected from public sources (warp-cli
of several years and OSes, kubeconfigs written by cloud CLIs and client libraries, the OS
commands ztctl reads), each folder with an INDEX.md table saying where every sample came
from and what it shows. ``tests/conformance/`` holds one table-driven test per folder; this
script writes the page that says what those tests cover, so the page cannot drift from the
corpus (``tests/test_compatibility_doc.py`` fails while it is stale).

    python scripts/compatibility_doc.py [CORPUS_DIR]      # default: $ZTCTL_CORPUS, else
                                                          # the corpus next to the checkout
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "compatibility.md"
_FILE = re.compile(r"[\w./@+-]+\.(?:txt|yaml|yml|json|xml)")


def default_corpus() -> Path:
    configured = os.environ.get("ZTCTL_CORPUS")
    return Path(configured) if configured else ROOT.parent / "shared" / "corpus"


def tables(text: str) -> list[tuple[str, list[dict[str, str]]]]:
    """Every Markdown table of ``text`` as (the heading above it, rows keyed by header)."""
    found: list[tuple[str, list[dict[str, str]]]] = []
    heading = ""
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            header = None
            continue
        if not line.startswith("|"):
            header = None
            continue
        inner = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", inner)]
        if header is None:
            header = [c.lower() for c in cells]
            found.append((heading, []))
            previous: dict[str, str] = {}
        elif not set(line.replace("|", "").strip()) <= {"-", ":", " "}:
            row = dict(zip(header, cells, strict=False))
            # "same" (or "same repo", "same issue"...) repeats the row above.
            for key, value in row.items():
                if re.fullmatch(r"same(?: [a-z]+)?", value) and key in previous:
                    row[key] = previous[key]
            previous = row
            found[-1][1].append(row)
    return found


def _files(cell: str) -> list[str]:
    return _FILE.findall(cell)


def _kind(name: str) -> str:
    """The kind of a warp-cli sample: its name up to the version (status, status --json...)."""
    base = Path(name).name
    if base.startswith("status-json"):
        return "status --json"
    return base.split("-", 1)[0]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("`", "")


def warp_section(corpus: Path) -> list[str]:
    rows = [r for _h, t in tables((corpus / "warp" / "INDEX.md").read_text()) for r in t]
    samples = [(f, r) for r in rows for f in _files(r.get("file", ""))]
    kinds = Counter(_kind(f) for f, _r in samples)
    by_version: dict[tuple[str, str], Counter[str]] = {}
    for name, row in samples:
        key = (_cell(row.get("warp-cli version", "?")), _cell(row.get("os", "?")))
        by_version.setdefault(key, Counter())[_kind(name)] += 1
    out = [
        "## warp-cli",
        "",
        f"{len(samples)} real outputs of `warp-cli`: every `status` era (single-line, "
        "multi-line, `--json`), `settings` with and without `(source)` prefixes, registration, "
        "errors, the Terms of Service prompt, versions and help.",
        "",
        "Samples per kind:",
        "",
        *_md_table(["kind", "samples"], [[k, str(n)] for k, n in sorted(kinds.items())]),
        "",
        "warp-cli versions and OSes covered (as the sources state them):",
        "",
        *_md_table(
            ["warp-cli version", "OS", "samples", "kinds"],
            [
                [v, o, str(sum(c.values())), ", ".join(sorted(c))]
                for (v, o), c in sorted(by_version.items())
            ],
        ),
    ]
    return out


# Who wrote each kubeconfig sample, by its file name's prefix (the corpus names them so).
PRODUCERS = (
    ("aws-eks-", "aws eks update-kubeconfig (aws-cli's test data)"),
    ("aks-", "az aks get-credentials + kubelogin"),
    ("01-microk8s-minikube", "minikube + microk8s + kubectl"),
    ("02-microk8s-minikube", "minikube + microk8s + kubectl"),
    ("csharp-", "Kubernetes C# client's fixtures"),
    ("js-", "Kubernetes JavaScript client's fixtures"),
    ("kubectx-", "kubectx's fixtures"),
    ("kubectl-", "kubectl v1.32 itself"),
    ("derived-", "derived variants of the above (CRLF, BOM, anchors, multi-document, ...)"),
)


def kubeconfig_section(corpus: Path) -> list[str]:
    rows = [r for _h, t in tables((corpus / "kubeconfig" / "INDEX.md").read_text()) for r in t]
    samples = [(f, r) for r in rows for f in _files(r.get("file", ""))]
    producers: dict[str, Counter[str]] = {}
    loads: Counter[str] = Counter()
    for name, row in samples:
        producer = next((p for prefix, p in PRODUCERS if name.startswith(prefix)), "other")
        verdict = row.get("kubectl v1.32 loads it?", "").lower()
        refused = verdict.startswith("no")
        loads["refused by kubectl" if refused else "loaded by kubectl"] += 1
        counts = producers.setdefault(producer, Counter())
        counts["samples"] += 1
        counts["refused"] += int(refused)
    return [
        "## kubeconfig",
        "",
        f"{len(samples)} kubeconfigs: files written by cloud CLIs and kubectl, the official "
        "client libraries' test fixtures, and derived variants for features no real sample "
        "showed. ztctl merges into every file kubectl loads (and the result still loads in the "
        "real kubectl), and refuses, exit 3 with the file untouched, every file kubectl "
        "refuses (base64 is decoded exactly as kubectl's Go code does). Two refusals are "
        "deliberate: an empty (0-byte) file, often what an interrupted write leaves, and a "
        "multi-document file (kubectl reads only the first document; ztctl does not edit "
        "such a file rather than lose the others).",
        "",
        *_md_table(
            ["kubectl's verdict", "samples"], [[k, str(n)] for k, n in sorted(loads.items())]
        ),
        "",
        "Producers covered:",
        "",
        *_md_table(
            ["producer", "samples", "of which kubectl refuses"],
            [[p, str(c["samples"]), str(c["refused"])] for p, c in sorted(producers.items())],
        ),
    ]


def platform_section(corpus: Path) -> list[str]:
    per_os: dict[str, Counter[str]] = {}
    total = 0
    for heading, rows in tables((corpus / "platform" / "INDEX.md").read_text()):
        os_name = heading.split("(")[0].strip() or "?"
        for row in rows:
            for _name in _files(row.get("file", "")):
                command = _cell(row.get("command", "?"))
                per_os.setdefault(os_name, Counter())[command] += 1
                total += 1
    out = [
        "## Operating systems",
        "",
        f"{total} outputs of the OS commands and files ztctl reads (or that sit next to "
        "them), per OS and command:",
        "",
    ]
    for os_name in sorted(per_os):
        out += [
            f"### {os_name}",
            "",
            *_md_table(
                ["command or file", "samples"],
                [[c, str(n)] for c, n in sorted(per_os[os_name].items())],
            ),
            "",
        ]
    return out[:-1]


INTRO = """\
# Compatibility

<!-- Generated by scripts/compatibility_doc.py from the conformance corpus; do not edit. -->

ztctl runs on **macOS and Linux**. On **Windows it refuses to start** (exit 1, one message
saying so): its warp-cli timeouts and Ctrl-C handling use POSIX process groups, its
kubeconfig and state locks use `fcntl`, and its route and posture checks run only the macOS
and Linux tools. Rather than half-work there, it stops; use `warp-cli` and kubectl directly.

What ztctl reads was checked against the **conformance corpus**: real outputs collected
from public sources (issue reports, official docs, the test data of open-source clients),
kept verbatim outside this repository with an index of where each came from and what it
shows. `tests/conformance/` has one table-driven test per part of the corpus: a row per
sample with the verdict ztctl must reach, and a test that every sample has a row. Where a
sample was truncated, annotated or is a fragment, the expected verdict is a warning that
says what could not be read, never a guess. The tests skip, saying why, where the corpus
is absent (`ZTCTL_CORPUS` points them at it).

The Windows samples are read by ztctl's Windows readers (`Find-NetRoute`, `manage-bde`,
`netsh advfirewall`, WARP's `mdm.xml`): pure functions checked against those real outputs,
the tested first step of Windows support. While ztctl refuses to start on Windows, nothing
runs them. `route print` and `ipconfig` are not read: the route to an address is the
operating system's own answer (`Find-NetRoute`), never computed from a table by hand.
"""


def render(corpus: Path) -> str:
    parts = [
        INTRO,
        *warp_section(corpus),
        "",
        *kubeconfig_section(corpus),
        "",
        *platform_section(corpus),
    ]
    return "\n".join(parts).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    corpus = Path(argv[1]) if len(argv) > 1 else default_corpus()
    if not (corpus / "warp" / "INDEX.md").is_file():
        sys.stderr.write(f"no conformance corpus at {corpus}\n")
        return 1
    DOC.write_text(render(corpus), encoding="utf-8")
    sys.stdout.write(f"wrote {DOC.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
