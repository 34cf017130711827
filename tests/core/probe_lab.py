"""What the probe tests need to know about the shared lab (``tests/conftest.py``).

Facts come from the lab itself (its PKI files, its catalog, its constants), never from
copies in the tests.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from ztctl.core.model import Cluster


@dataclass
class LabHandle:
    dir: Path

    @property
    def pki(self):  # type: ignore[no-untyped-def]
        from ztctl.lab.pki import pki_for

        return pki_for(self.dir)

    @property
    def info(self):  # type: ignore[no-untyped-def]
        from ztctl.lab.env import LabPaths, read_lab_file

        info = read_lab_file(LabPaths.of(self.dir))
        assert info is not None
        return info

    def env(self) -> dict[str, str]:
        import os

        return self.info.env(dict(os.environ))

    def cluster(self, name: str) -> Cluster:
        from ztctl.core.catalog import load_catalog

        catalog = load_catalog(str(self.info.paths.catalog), self.dir / "state", {})
        found = catalog.get(name)
        assert found is not None
        return found

    def set(self, *assignments: str) -> None:
        from ztctl.lab.control import set_values

        set_values(self.dir, list(assignments))

    def kube_version(self) -> str:
        from ztctl.lab.apiserver import KUBE_VERSION

        return str(KUBE_VERSION["gitVersion"])

    def client_user(self) -> str:
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_pem_x509_certificate(self.pki.client_variant("valid")[0].read_bytes())
        return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def bearer_user(self) -> str:
        from ztctl.lab.pki import BEARER_USER

        return BEARER_USER

    def ca_subject(self) -> str:
        from cryptography import x509

        return x509.load_pem_x509_certificate(
            self.pki.ca_cert.read_bytes()
        ).subject.rfc4514_string()

    def server_not_after(self) -> str:
        from cryptography import x509

        cert = x509.load_pem_x509_certificate(self.pki.server_cert.read_bytes())
        return cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

    def bastion_url(self) -> str:
        return str(self.info.proxy_url)

    @staticmethod
    def free_port() -> int:
        """A loopback port nobody listens on (bound, then released)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
