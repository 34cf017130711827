"""The one way ztctl touches the OS credential store: items of service ``ztctl``.

Two ways in:

* :func:`set_secret`, :func:`get_secret`, :func:`delete_secret` go through the ``keyring``
  package (imported here, lazily) and its backend choice: ``PYTHON_KEYRING_BACKEND``, else
  ``keyringrc.cfg``, else the best backend it detects (Keychain on macOS, Secret Service on
  Linux, Credential Manager on Windows).
* :func:`read_secret_fast` is for ``ztctl credential``, which runs inside every kubectl call:
  importing ``keyring`` and letting it discover backends costs about 150 ms here (entry
  points, ``importlib.metadata``, urllib, email). This reads the *same* store through the
  lightest route that gives the same answer, and falls back to :func:`get_secret` whenever
  it cannot be sure:

  - a backend named by ``PYTHON_KEYRING_BACKEND`` or ``keyringrc.cfg``: the Secret Service
    or Keychain readers below when it is one of those, else its module's
    ``light_get_password(service, username)`` if it offers one, else ``keyring`` itself;
  - nothing configured: the platform's own store (Secret Service over D-Bus with
    ``jeepney``; the Keychain through keyring's own ctypes ``api`` module, loaded without the
    rest of the package); a miss there is re-checked with ``keyring``, so a token kept in a
    backend that discovery picked is still found.

Never a plaintext fallback: with no usable store every call raises
:class:`KeyringUnavailable` (exit 4) with the fix. A locked store is
:class:`KeyringLocked`; an item the backend cannot hold is :class:`KeyringItemTooLarge`.
Secrets never appear in an error message. Nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ztctl.errors import AuthNeeded

SERVICE = "ztctl"

# Windows Credential Manager keeps at most 2560 bytes, and keyring stores UTF-16 there.
_WINDOWS_MAX_CHARS = 1280

_NATIVE_SECRET_SERVICE = "keyring.backends.SecretService.Keyring"  # noqa: S105 - a class name
_NATIVE_MACOS = "keyring.backends.macOS.Keyring"
_NO_STORE_BACKENDS = frozenset({"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"})


class KeyringError(AuthNeeded):
    """The OS credential store could not be used (exit 4)."""


class KeyringUnavailable(KeyringError):
    """No usable keyring backend."""


class KeyringLocked(KeyringError):
    """The store (Keychain, login keyring) is locked, or access was denied."""


class KeyringItemTooLarge(KeyringError):
    """The backend refused an item of this size."""


def _no_backend_fix() -> str:
    if sys.platform == "darwin":
        return (
            "ztctl keeps tokens only in the login Keychain: check that it exists in Keychain "
            "Access, or name a backend with PYTHON_KEYRING_BACKEND; ztctl never falls back "
            "to plain files"
        )
    if sys.platform.startswith("win"):
        return (
            "ztctl keeps tokens only in Windows Credential Manager: check that the service "
            "runs, or name a backend with PYTHON_KEYRING_BACKEND; ztctl never falls back to "
            "plain files"
        )
    return (
        "start a Secret Service provider in your desktop session (gnome-keyring, KWallet, "
        "KeePassXC) with DBUS_SESSION_BUS_ADDRESS set; on a headless machine, container or WSL, "
        'run ztctl inside one: `dbus-run-session -- bash -c \'printf %s "$KEYRING_PASSWORD" | '
        "gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec bash'` (packages "
        "dbus-daemon and gnome-keyring); clusters with client certificates need no keyring. "
        "ztctl never falls back to plain files"
    )


def _locked_fix() -> str:
    if sys.platform == "darwin":
        return (
            "unlock the login Keychain (`security unlock-keychain login.keychain-db`) and "
            "answer the access prompt with 'Always Allow', then retry"
        )
    if sys.platform.startswith("win"):
        return "sign in to Windows interactively so Credential Manager is available, then retry"
    return (
        "unlock your login keyring (Seahorse, KWallet, KeePassXC) or run `ztctl login` in a "
        "desktop session that can show the unlock prompt, then retry"
    )


def _unavailable(detail: str) -> KeyringUnavailable:
    return KeyringUnavailable(
        f"no usable OS keyring to keep ztctl's tokens in ({detail})", _no_backend_fix()
    )


def _locked(detail: str) -> KeyringLocked:
    return KeyringLocked(f"the OS keyring is locked or refused access ({detail})", _locked_fix())


def _too_large(name: str, size: int, backend: str) -> KeyringItemTooLarge:
    return KeyringItemTooLarge(
        f"the token for {name!r} ({size} characters) is larger than the keyring backend "
        f"{backend} can hold",
        "name a keyring backend without this limit with PYTHON_KEYRING_BACKEND (e.g. "
        "keyring.backends.SecretService.Keyring, or KeePassXC's Secret Service), then run "
        "`ztctl login`",
    )


# ---------------------------------------------------------------------------------------
# The full `keyring` path


def _backend() -> Any:
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise _unavailable("the `keyring` package is not installed") from exc
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a broken PYTHON_KEYRING_BACKEND or keyringrc.cfg
        raise _unavailable(f"the configured backend failed to load: {type(exc).__name__}") from exc
    name = backend_name(backend)
    if isinstance(backend, fail.Keyring) or name in _NO_STORE_BACKENDS:
        raise _unavailable(f"keyring found no backend; it uses {name}")
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        raise _unavailable("keyring's chainer has no backends")
    chained = backend.backends if isinstance(backend, chainer.ChainerBackend) else [backend]
    for candidate in chained:
        if is_plaintext_backend(candidate):
            raise _unavailable(
                f"keyring would use {backend_name(candidate)}, which keeps secrets in a file, "
                "not in the OS keyring; ztctl never stores tokens there"
            )
    return backend


def is_plaintext_backend(backend: Any) -> bool:
    """Whether ``backend`` keeps secrets in a file of its own (keyrings.alt) — never used."""
    name = backend_name(backend)
    return name.startswith("keyrings.alt.file.") or "plaintext" in name.lower()


def backend_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_backend() -> str:
    """The backend ``keyring`` uses (for ``status`` and ``doctor``); raises if none."""
    return backend_name(_backend())


def _translate(
    exc: Exception, *, name: str, secret: str | None = None, backend: str = ""
) -> KeyringError:
    """Map a backend exception to one of ours (never quoting the secret)."""
    from keyring import errors as kr_errors

    text = str(exc)
    if secret:
        text = text.replace(secret, "<redacted>")
    lowered = text.lower()
    detail = f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__
    if isinstance(exc, kr_errors.NoKeyringError):
        return _unavailable(detail)
    if "failed to create the collection" in lowered:
        # keyring's SecretService backend: no default collection, and creating one needed a
        # prompt that was dismissed or could not be shown (no desktop session).
        return KeyringUnavailable(
            f"the Secret Service has no default keyring, and none could be created ({detail})",
            "create a default keyring in your desktop session (Seahorse: + > Password "
            "keyring, then Set as default), or run `ztctl login` in a desktop session that "
            "can show the prompt, then retry; ztctl never falls back to plain files",
        )
    if isinstance(exc, kr_errors.KeyringLocked) or any(
        word in lowered
        for word in ("locked", "denied", "-25308", "-128", "interaction not allowed", "dismissed")
    ):
        return _locked(detail)
    if secret is not None and any(
        word in lowered for word in ("too big", "too large", "1783", "stub received bad data")
    ):
        return _too_large(name, len(secret), backend or "in use")
    if isinstance(exc, kr_errors.InitError) or "serviceunknown" in lowered.replace(".", ""):
        return _unavailable(detail)
    return KeyringError(
        f"the OS keyring failed on the item for {name!r} ({detail})",
        "retry; if it keeps failing, run `ztctl doctor` (it checks the keyring)",
    )


# At most this many items of one name are removed (a store holding more is broken).
_MAX_DUPLICATES = 16


def set_secret(name: str, secret: str) -> None:
    """Store ``secret`` as item ``name`` of service ``ztctl`` (replacing any old one).

    A Secret Service can hold several items with the same ``service``/``username``: keyring
    replaces only an item with exactly its own attributes (``application`` included), so an
    item written by another client (``secret-tool``, another keyring ``appid``) would stay,
    and every reader returns the first match, in an order the service chooses — often that
    stale item. So every item of ``name`` is removed first (one read when there is none)."""
    backend = _backend()
    if sys.platform.startswith("win") and len(secret) > _WINDOWS_MAX_CHARS:
        raise _too_large(name, len(secret), backend_name(backend))
    try:
        _delete_all(backend, name)
        backend.set_password(SERVICE, name, secret)
    except Exception as exc:
        raise _translate(exc, name=name, secret=secret, backend=backend_name(backend)) from None


def _delete_all(backend: Any, name: str) -> bool:
    """Remove every item ``name`` (keyring's ``delete_password`` removes only the first
    match); ``True`` if there was one."""
    from keyring import errors as kr_errors

    removed = False
    for _ in range(_MAX_DUPLICATES):
        if backend.get_password(SERVICE, name) is None:
            break
        try:
            backend.delete_password(SERVICE, name)
        except kr_errors.PasswordDeleteError:
            break
        removed = True
    return removed


def get_secret(name: str) -> str | None:
    """The item ``name`` of service ``ztctl``, or ``None``."""
    backend = _backend()
    try:
        value = backend.get_password(SERVICE, name)
    except Exception as exc:
        raise _translate(exc, name=name) from None
    return value if isinstance(value, str) else None


def delete_secret(name: str) -> bool:
    """Remove item ``name`` (every copy of it); ``True`` if there was one. Also clears a
    copy the fast path could still find in the platform's own store after a backend
    switch."""
    backend = _backend()
    try:
        removed = _delete_all(backend, name)
    except Exception as exc:
        raise _translate(exc, name=name) from None
    if not _configured_backend(os.environ) and backend_name(backend) != _native_backend():
        removed = _delete_native(name) or removed
    return removed


def _native_backend() -> str | None:
    if sys.platform == "darwin":
        return _NATIVE_MACOS
    if sys.platform.startswith("linux") or "bsd" in sys.platform:
        return _NATIVE_SECRET_SERVICE
    return None


def _delete_native(name: str) -> bool:
    native = _native_backend()
    if native is None:
        return False
    try:
        from keyring.core import load_keyring

        return _delete_all(load_keyring(native), name)
    except Exception:
        return False  # no such store on this machine: nothing the fast path could read


# ---------------------------------------------------------------------------------------
# The fast path


class _Undecided(Exception):
    """The light reader cannot answer for sure; ask ``keyring``."""


def _keyringrc_backend(env: Mapping[str, str]) -> str | None:
    """``[backend] default-keyring`` of keyring's config file, read without configparser.

    A ``keyring-path`` option (extra import path) makes us defer to keyring itself."""
    if sys.platform.startswith("win"):
        root = env.get("LOCALAPPDATA") or env.get("ProgramData") or "."
        path = os.path.join(root, "Python Keyring", "keyringrc.cfg")
    else:
        home = env.get("HOME") or os.path.expanduser("~")
        config_home = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
        path = os.path.join(config_home, "python_keyring", "keyringrc.cfg")
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError:
        return None
    section = ""
    found: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.replace(":", "=", 1).partition("=")
        if section == "backend" and sep:
            key = key.strip().lower()
            if key == "keyring-path":
                return "?"  # keyring extends sys.path first: let it do so
            if key == "default-keyring":
                found = value.strip()
    return found


def _configured_backend(env: Mapping[str, str]) -> str | None:
    return env.get("PYTHON_KEYRING_BACKEND") or _keyringrc_backend(env)


def read_secret_fast(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """Read item ``name`` as :func:`get_secret` would, without importing ``keyring`` when
    the store can be read directly. Raises the same errors."""
    env = os.environ if env is None else env
    if any(key.startswith("KEYRING_PROPERTY_") for key in env):
        return get_secret(name)  # backend properties (scheme, collection): keyring knows them
    configured = _configured_backend(env)
    reader: Callable[[str, str], str | None] | None
    if configured:
        reader = _light_reader(configured)
        if reader is None:
            return get_secret(name)
        try:
            return reader(SERVICE, name)
        except KeyringError:
            raise
        except Exception:  # _Undecided, or a backend error: keyring decides and explains
            return get_secret(name)
    native = _native_backend()
    reader = _light_reader(native) if native else None
    if reader is None:
        return get_secret(name)
    try:
        value = reader(SERVICE, name)
    except KeyringError:
        raise
    except Exception:
        return get_secret(name)
    if value is None:
        return get_secret(name)  # discovery may have picked another backend
    return value


def _light_reader(backend: str) -> Callable[[str, str], str | None] | None:
    if backend == _NATIVE_SECRET_SERVICE:
        return _secret_service_get
    if backend == _NATIVE_MACOS:
        return _keychain_get
    if backend in _NO_STORE_BACKENDS:
        raise _unavailable(f"the configured keyring backend is {backend}")
    module_name, _, _cls = backend.rpartition(".")
    if not module_name or backend == "?":
        return None
    import importlib

    try:
        module = importlib.import_module(module_name)
    except Exception:
        return None  # keyring will report the broken configuration
    reader = getattr(module, "light_get_password", None)
    return reader if callable(reader) else None


# -- Secret Service (freedesktop.org), Linux and BSD --------------------------------------

_SS_BUS = "org.freedesktop.secrets"
_SS_PATH = "/org/freedesktop/secrets"
_SS_SERVICE = "org.freedesktop.Secret.Service"
_SS_COLLECTION = "org.freedesktop.Secret.Collection"


def _secret_service_get(service: str, username: str) -> str | None:
    """What keyring's SecretService backend returns: the first item with attributes
    ``{"username", "service"}`` in the default collection. Uses a ``plain`` session (the
    secret crosses only the user's own session bus socket) so no crypto is imported."""
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        raise _Undecided
    try:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import DBusErrorResponse
    except ImportError as exc:
        raise _Undecided from exc

    def call(conn: Any, path: str, interface: str, method: str, sig: str, *args: Any) -> Any:
        address = DBusAddress(path, bus_name=_SS_BUS, interface=interface)
        reply = conn.send_and_get_reply(new_method_call(address, method, sig, args), timeout=2)
        if reply.header.message_type.name == "error":
            raise DBusErrorResponse(reply)
        return reply.body

    try:
        conn = open_dbus_connection(bus="SESSION")
    except Exception as exc:
        raise _Undecided from exc
    try:
        (collection,) = call(conn, _SS_PATH, _SS_SERVICE, "ReadAlias", "s", "default")
        if not collection or collection == "/":
            raise _Undecided
        (locked_variant,) = call(
            conn,
            collection,
            "org.freedesktop.DBus.Properties",
            "Get",
            "ss",
            _SS_COLLECTION,
            "Locked",
        )
        if locked_variant[1]:
            raise _Undecided  # keyring shows the unlock prompt
        (items,) = call(
            conn,
            collection,
            _SS_COLLECTION,
            "SearchItems",
            "a{ss}",
            {"username": username, "service": service},
        )
        if not items:
            return None
        _output, session = call(
            conn, _SS_PATH, _SS_SERVICE, "OpenSession", "sv", "plain", ("s", "")
        )
        try:
            (secrets,) = call(conn, _SS_PATH, _SS_SERVICE, "GetSecrets", "aoo", [items[0]], session)
        finally:
            with contextlib.suppress(Exception):  # closing a plain session: best effort
                call(conn, session, "org.freedesktop.Secret.Session", "Close", "")
        if items[0] not in secrets:
            raise _Undecided  # the item is locked
        value = secrets[items[0]][2]
        return bytes(value).decode("utf-8")
    except _Undecided:
        raise
    except Exception as exc:
        raise _Undecided from exc
    finally:
        conn.close()


# -- macOS Keychain ----------------------------------------------------------------------


def _keychain_get(service: str, username: str) -> str | None:
    """keyring's own Keychain calls (``keyring/backends/macOS/api.py``, plain ctypes),
    loaded without importing the rest of the package."""
    import importlib.util

    spec = importlib.util.find_spec("keyring")
    if spec is None or not spec.submodule_search_locations:
        raise _Undecided
    path = os.path.join(next(iter(spec.submodule_search_locations)), "backends", "macOS", "api.py")
    api_spec = importlib.util.spec_from_file_location("_ztctl_keychain_api", path)
    if api_spec is None or api_spec.loader is None:
        raise _Undecided
    api = importlib.util.module_from_spec(api_spec)
    try:
        api_spec.loader.exec_module(api)
        return str(api.find_generic_password(None, service, username))
    except Exception as exc:
        if type(exc).__name__ == "NotFound":
            return None
        raise _Undecided from exc  # denied, locked, no Security framework: keyring decides
