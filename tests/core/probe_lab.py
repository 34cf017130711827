"""What the probe tests need to know about the shared lab (``tests/conftest.py``'s typed
``lab`` fixture).

Facts come from the lab itself (its PKI files, its catalog, its constants), never from
copies in the tests.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from ztctl.core.model import Cluster

if TYPE_CHECKING:
    from tests.conftest import Lab
    from ztctl.lab.pki import LabPki


def pki(lab: Lab) -> LabPki:
    from ztctl.lab.pki import pki_for

    return pki_for(lab.dir)


def cluster(lab: Lab, name: str) -> Cluster:
    from ztctl.core.catalog import load_catalog

    catalog = load_catalog(str(lab.paths.catalog), lab.dir / "state", {})
    found = catalog.get(name)
    assert found is not None
    return found


def kube_version() -> str:
    from ztctl.lab.apiserver import KUBE_VERSION

    return str(KUBE_VERSION["gitVersion"])


def client_user(lab: Lab) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pki(lab).client_variant("valid")[0].read_bytes())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def bearer_user() -> str:
    from ztctl.lab.pki import BEARER_USER

    return BEARER_USER


def ca_subject(lab: Lab) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pki(lab).ca_cert.read_bytes()).subject.rfc4514_string()


def server_not_after(lab: Lab) -> str:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(pki(lab).server_cert.read_bytes())
    return cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
