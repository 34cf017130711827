"""Conformance of kubeconfig reading and merging with real kubeconfigs.

Each row names one sample of the corpus and what ``ztctl use-cluster`` must do with it:
``merges`` (the result still loads in the real kubectl, with every entry it had plus ztctl's)
or ``refused:<words>`` (exit 3, the file byte-for-byte untouched, the message naming why).
The rows agree with the INDEX's "kubectl v1.32 loads it?" column, and (where kubectl is
installed) with what the real kubectl does with the sample today.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance.corpus import files_on_disk, index_rows, sample
from ztctl.core.model import Cluster, ExecCredential
from ztctl.core.use_cluster import merge_cluster
from ztctl.errors import InvalidInput

KIND = "kubeconfig"
BASE64 = "refused:illegal base64 data at input byte"

ROWS: list[tuple[str, str]] = [
    ("01-microk8s-minikube-merged-config-view-dataomitted.yaml", "merges"),
    ("02-microk8s-minikube-merged-dummydata.yaml", "merges"),
    ("aks-kubelogin-converted-azurecli-blog.yaml", "merges"),
    ("aws-eks-output_combined.yaml", BASE64),
    ("aws-eks-output_combined-dummydata.yaml", "merges"),
    ("aws-eks-output_single.yaml", "merges"),
    ("aws-eks-valid_bad_context2.yaml", BASE64),
    ("aws-eks-valid_changed_ordering.yaml", BASE64),
    # kubectl reads 0 bytes as an empty config; ztctl will not write into an empty file
    # (what an interrupted writer leaves behind) and says how to go on.
    ("aws-eks-valid_empty_existing.yaml", "refused:is empty (0 bytes)"),
    ("aws-eks-valid_null_cluster.yaml", "merges"),
    ("aws-eks-valid_old_api_version.yaml", "merges"),
    ("aws-eks-valid_old_data.yaml", BASE64),
    ("aws-eks-valid_old_data-dummydata.yaml", "merges"),
    ("csharp-kubeconfig.yml", "merges"),
    ("csharp-kubeconfig.additional-properties.yml", "merges"),
    ("csharp-kubeconfig.cluster-extensions.yml", "merges"),
    ("csharp-kubeconfig.cluster-missmatch.yml", "merges"),
    ("csharp-kubeconfig.no-context-details.yml", "merges"),
    ("csharp-kubeconfig.preferences-extensions.yml", "merges"),
    ("csharp-kubeconfig.tls-servername.yml", "merges"),
    ("csharp-kubeconfig.user-oidc.yml", "merges"),
    ("csharp-kubeconfig.wildcard-ipv6.yml", "merges"),
    ("derived-anchors-of-aws-eks.yaml", "merges"),
    ("derived-bom-of-kubectx-config2.yaml", "merges"),
    ("derived-crlf-of-csharp-kubeconfig.yml", "merges"),
    ("derived-duplicate-cluster-name-of-kubectx-config1.yaml", "refused:cluster1"),
    # kubectl 1.32 loads the first document only; ztctl refuses to edit, and says so truly.
    ("derived-multidoc-of-kubectx-config1-and-2.yaml", "refused:kubectl reads only the first"),
    ("derived-tabindent-of-kubectx-config1.yaml", "refused:is not valid YAML"),
    ("derived-unicode-quoted-of-kubectx-config2.yaml", "merges"),
    ("js-empty-user-kubeconfig.yaml", "merges"),
    ("js-kubeconfig-2.yaml", "merges"),
    ("js-kubeconfig-dupe-cluster.yaml", "merges"),
    ("js-kubeconfig-proxy-url.yaml", "merges"),
    ("js-kubeconfig.yaml", "merges"),
    ("js-tls-server-name-kubeconfig.yaml", "merges"),
    ("kubectl-1.32-view-json-of-aws-eks-output_single.json", "merges"),
    ("kubectl-1.32-written-proxyurl-tlsservername-exec-interactive.yaml", "merges"),
    ("kubectx-config1.yaml", "merges"),
    ("kubectx-config2.yaml", "merges"),
]

CLUSTER = Cluster(
    name="ztctl-corpus",
    server="https://10.0.0.5:6443",
    addresses=("10.0.0.5",),
    credentials=ExecCredential("kubelogin", ("get-token",)),
)


def _kubectl() -> str | None:
    return shutil.which("kubectl")


def _view(kubectl: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(path)}
    return subprocess.run(
        [kubectl, "config", "view", "--raw", "-o", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _names(view: dict[str, object], key: str) -> set[str]:
    items = view.get(key) or []
    assert isinstance(items, list)
    return {str(i.get("name")) for i in items if isinstance(i, dict)}


@pytest.mark.parametrize(("name", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_kubeconfig_sample(tmp_path: Path, name: str, expected: str) -> None:
    original = sample(KIND, name).read_bytes()
    target = tmp_path / "config"
    target.write_bytes(original)
    kubectl = _kubectl()
    before = _view(kubectl, target) if kubectl else None
    if expected == "merges":
        merge_cluster(CLUSTER, kubeconfig=str(target), env={})
        if kubectl is None:
            return
        after = _view(kubectl, target)
        assert after.returncode == 0, (name, after.stderr)
        assert before is not None and before.returncode == 0
        old, new = json.loads(before.stdout), json.loads(after.stdout)
        for key in ("clusters", "users", "contexts"):
            assert _names(old, key) <= _names(new, key), (name, key)
        assert "ztctl-corpus" in _names(new, "contexts")
        assert new.get("current-context") == "ztctl-corpus"
        return
    words = expected.partition(":")[2]
    with pytest.raises(InvalidInput) as caught:
        merge_cluster(CLUSTER, kubeconfig=str(target), env={})
    assert caught.value.exit_code == 3
    said = f"{caught.value.message}\n{caught.value.fix}\n{caught.value.details}"
    assert words in said, said
    assert "nothing was written" in said or "run the command again" in said
    assert target.read_bytes() == original, "the file was changed"


@pytest.mark.parametrize(("name", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_rows_agree_with_the_index_and_real_kubectl(name: str, expected: str) -> None:
    truth = index_rows(KIND)[name][-1].lower()
    refused_by_kubectl = truth.startswith("no")
    if refused_by_kubectl:
        assert expected.startswith("refused:"), (name, truth)
    elif expected.startswith("refused:"):
        # Only the documented, deliberate refusals of files kubectl loads.
        assert name in {
            "aws-eks-valid_empty_existing.yaml",
            "derived-multidoc-of-kubectx-config1-and-2.yaml",
        }, (name, truth)
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl not installed: the INDEX column was checked alone")
    view = _view(kubectl, sample(KIND, name))
    assert (view.returncode != 0) == refused_by_kubectl, (name, view.stderr)
    if expected == BASE64:
        assert "illegal base64 data at input byte" in view.stderr


def test_every_kubeconfig_sample_has_a_row() -> None:
    listed = set(index_rows(KIND))
    on_disk = files_on_disk(KIND)
    covered = {row[0] for row in ROWS}
    assert listed == on_disk, ("INDEX and folder differ", listed ^ on_disk)
    assert on_disk == covered, ("samples without a row / rows without a sample", on_disk ^ covered)
