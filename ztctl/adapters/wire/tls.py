"""TLS client contexts: the cluster CA, the client certificate (kept off disk), HTTP/1.1."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from ztctl.adapters.wire.errors import CaInvalid, ClientCertInvalid, ClientCertMissing, ssl_reason


def client_context(
    ca_pem: bytes | None,
    *,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> ssl.SSLContext:
    """A verifying context (host name checked, TLS 1.2+, ALPN http/1.1).

    ``ca_pem=None``: the system trust store. Client credentials from memory win over files.
    Raises :class:`CaInvalid`, :class:`ClientCertMissing` or :class:`ClientCertInvalid`.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if ca_pem is None:
        ctx.load_default_certs()
    else:
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode("ascii", "strict"))
        except (ssl.SSLError, ValueError, UnicodeDecodeError):
            raise CaInvalid("not PEM certificates") from None
    try:
        if cert_pem is not None and key_pem is not None:
            load_chain_from_memory(ctx, cert_pem, key_pem)
        elif cert_file is not None:
            from ztctl.adapters.fs import MAX_PEM_BYTES, read_regular_file

            # Read bounded first (OpenSSL would read a FIFO or /dev/zero forever).
            cert_bytes = read_regular_file(cert_file, MAX_PEM_BYTES)
            key_bytes = read_regular_file(key_file, MAX_PEM_BYTES) if key_file else cert_bytes
            load_chain_from_memory(ctx, cert_bytes, key_bytes)
    except FileNotFoundError as exc:
        raise ClientCertMissing(str(exc.filename or cert_file)) from None
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise ClientCertInvalid(ssl_reason(exc)) from None
    return ctx


def load_chain_from_memory(ctx: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """``load_cert_chain`` wants paths: use memory files (never a key on disk) where possible."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None:
        fds: list[int] = []
        try:
            for name, data in (("ztctl-cert", cert_pem), ("ztctl-key", key_pem)):
                fd = memfd(name, getattr(os, "MFD_CLOEXEC", 0))
                fds.append(fd)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            ctx.load_cert_chain(f"/proc/self/fd/{fds[0]}", f"/proc/self/fd/{fds[1]}")
            return
        except OSError:
            pass  # no /proc: fall back to a private temporary directory
        finally:
            for fd in fds:
                os.close(fd)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ztctl-") as tmp:  # 0700
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        for p, data in ((cert_path, cert_pem), (key_path, key_pem)):
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        ctx.load_cert_chain(str(cert_path), str(key_path))


def key_mismatch(cert: bytes | str, key: bytes | str) -> str | None:
    """None when the key belongs to the certificate, else why not (never shows key data)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if isinstance(cert, bytes) and isinstance(key, bytes):
            load_chain_from_memory(ctx, cert, key)
        else:
            ctx.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        reason = str(getattr(exc, "reason", "") or exc)
        if "KEY_VALUES_MISMATCH" in reason.upper():
            return "the private key does not belong to the certificate"
        return f"the certificate and key cannot be loaded ({reason.lower().replace('_', ' ')})"
    except OSError as exc:
        return f"the certificate and key cannot be loaded ({exc.strerror or exc})"
    return None
