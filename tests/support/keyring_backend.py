"""An isolated stand-in for the OS credential store, for tests only.

Select it in a process (and its children) with::

    PYTHON_KEYRING_BACKEND=tests.support.keyring_backend.IsolatedKeyring
    ZTCTL_TEST_KEYRING_DIR=<a tmp_path>

Items live in ``<dir>/items.json`` (0600, replaced atomically under an ``fcntl`` lock), so
concurrent subprocesses see one store. Without ``ZTCTL_TEST_KEYRING_DIR`` every call fails:
it can never stand in for the developer's real keyring by accident.

Faults, for the error paths: write ``locked``, ``no-backend`` or ``max-size N`` to
``<dir>/fault``. ``<dir>/reads`` counts reads (one line per read) so tests can tell that a
value came from the store.

The module imports no ``keyring`` at import time: the backend class is built on first
attribute access (``keyring`` loads it by name), and :func:`light_get_password` is the cheap
reader ``ztctl credential`` uses on its fast path.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ENV_DIR = "ZTCTL_TEST_KEYRING_DIR"
BACKEND = "tests.support.keyring_backend.IsolatedKeyring"


class IsolatedStoreError(RuntimeError):
    pass


def store_dir() -> Path:
    value = os.environ.get(ENV_DIR)
    if not value:
        raise IsolatedStoreError(f"the isolated test keyring needs {ENV_DIR}; it is for tests only")
    return Path(value)


def _fault() -> str:
    try:
        return (store_dir() / "fault").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""


@contextlib.contextmanager
def _locked_items(write: bool) -> Iterator[dict[str, dict[str, str]]]:
    directory = store_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "items.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX if write else fcntl.LOCK_SH)
        try:
            try:
                items = json.loads((directory / "items.json").read_text(encoding="utf-8"))
            except FileNotFoundError:
                items = {}
            yield items
            if write:
                tmp = directory / f".items.{os.getpid()}.tmp"
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(items, handle)
                os.replace(tmp, directory / "items.json")
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _check_fault(kind: str, password: str | None = None) -> None:
    fault = _fault()
    if fault == "no-backend":
        from keyring.errors import NoKeyringError

        raise NoKeyringError("No recommended backend was available.")
    if fault == "locked":
        from keyring.errors import KeyringLocked

        raise KeyringLocked("Failed to unlock the collection!")
    if fault.startswith("max-size") and kind == "set" and password is not None:
        limit = int(fault.split()[1])
        if len(password) > limit:
            from keyring.errors import PasswordSetError

            raise PasswordSetError("data passed to Set was too big")


def light_get_password(service: str, username: str) -> str | None:
    """The fast-path reader (no ``keyring`` import unless a fault is set)."""
    if _fault():
        _check_fault("get")
    with _locked_items(write=False) as items:
        value = items.get(service, {}).get(username)
    with open(store_dir() / "reads", "a", encoding="utf-8") as handle:
        handle.write(f"light {username}\n")
    return value


def items_snapshot() -> dict[str, dict[str, str]]:
    with _locked_items(write=False) as items:
        return json.loads(json.dumps(items))


def _build_class() -> type:
    from keyring.backend import KeyringBackend
    from keyring.errors import PasswordDeleteError

    class IsolatedKeyring(KeyringBackend):
        """ztctl's isolated test keyring (a JSON file under ZTCTL_TEST_KEYRING_DIR)."""

        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            _check_fault("get")
            with _locked_items(write=False) as items:
                value = items.get(service, {}).get(username)
            with open(store_dir() / "reads", "a", encoding="utf-8") as handle:
                handle.write(f"full {username}\n")
            return value

        def set_password(self, service: str, username: str, password: str) -> None:
            _check_fault("set", password)
            with _locked_items(write=True) as items:
                items.setdefault(service, {})[username] = password

        def delete_password(self, service: str, username: str) -> None:
            _check_fault("delete")
            with _locked_items(write=True) as items:
                if username not in items.get(service, {}):
                    raise PasswordDeleteError("no such item")
                del items[service][username]

    IsolatedKeyring.__module__ = __name__
    IsolatedKeyring.__qualname__ = "IsolatedKeyring"
    return IsolatedKeyring


_classes: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name == "IsolatedKeyring":
        if name not in _classes:
            _classes[name] = _build_class()
        return _classes[name]
    raise AttributeError(name)
