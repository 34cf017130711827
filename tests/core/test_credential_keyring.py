"""The keyring adapter behind `ztctl credential`: the fast reader gives keyring's answer,
errors explain the fix, and there is never a plaintext fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import keyring_backend
from tests.support.keyring_backend import BACKEND, ENV_DIR
from ztctl.adapters import keyring as kr


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import keyring

    directory = tmp_path / "store"
    monkeypatch.setenv(ENV_DIR, str(directory))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", BACKEND)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(keyring.core, "_keyring_backend", keyring_backend.IsolatedKeyring())
    return directory


def reads(store: Path) -> list[str]:
    try:
        return (store / "reads").read_text().split()
    except FileNotFoundError:
        return []


def test_set_get_delete_round_trip(store: Path) -> None:
    kr.set_secret("prod", "t0k")
    assert kr.get_secret("prod") == "t0k"
    assert keyring_backend.items_snapshot() == {"ztctl": {"prod": "t0k"}}
    assert kr.delete_secret("prod") is True
    assert kr.get_secret("prod") is None
    assert kr.delete_secret("prod") is False


def test_fast_reader_uses_the_backends_light_function(store: Path) -> None:
    kr.set_secret("prod", "t0k")
    assert kr.read_secret_fast("prod") == "t0k"
    assert kr.read_secret_fast("other") is None
    assert reads(store)[-4:] == ["light", "prod", "light", "other"]


def test_keyringrc_names_the_backend(
    store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND")
    rc = tmp_path / "config" / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir(parents=True)
    rc.write_text(f"[backend]\ndefault-keyring = {BACKEND}\n")
    kr.set_secret("prod", "t0k")
    assert kr.read_secret_fast("prod", {"XDG_CONFIG_HOME": str(tmp_path / "config")}) == "t0k"
    assert reads(store)[-2:] == ["light", "prod"]


def test_keyring_properties_defer_to_keyring(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kr.set_secret("prod", "t0k")
    monkeypatch.setenv("KEYRING_PROPERTY_SCHEME", "KeePassXC")
    assert kr.read_secret_fast("prod") == "t0k"
    assert reads(store)[-2:] == ["full", "prod"]


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("locked", kr.KeyringLocked, "unlock"),
        ("no-backend", kr.KeyringUnavailable, "never falls back to plain files"),
    ],
)
def test_errors_name_the_fix(store: Path, fault: str, error: type, words: str) -> None:
    store.mkdir(parents=True, exist_ok=True)
    (store / "fault").write_text(fault)
    for call in (lambda: kr.read_secret_fast("prod"), lambda: kr.set_secret("prod", "t0k")):
        with pytest.raises(error) as caught:
            call()
        assert caught.value.exit_code == 4
        assert words in caught.value.fix
        assert "t0k" not in caught.value.message


def test_too_large_item(store: Path) -> None:
    store.mkdir(parents=True, exist_ok=True)
    (store / "fault").write_text("max-size 10")
    with pytest.raises(kr.KeyringItemTooLarge) as caught:
        kr.set_secret("prod", "x" * 50)
    assert "50 characters" in caught.value.message
    assert "x" * 50 not in caught.value.message
    assert "PYTHON_KEYRING_BACKEND" in caught.value.fix


def test_no_backend_at_all_is_an_error_not_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", fail.Keyring())
    with pytest.raises(kr.KeyringUnavailable):
        kr.set_secret("prod", "t0k")
    with pytest.raises(kr.KeyringUnavailable):
        kr.get_secret("prod")


@pytest.mark.parametrize("chained", [False, True])
def test_a_plaintext_file_backend_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, chained: bool
) -> None:
    # keyrings.alt's PlaintextKeyring (or a chainer that would fall back to it) keeps the
    # token in a file: docs/configuration.md says secrets live only in the OS keyring.
    import keyring
    from keyring.backend import KeyringBackend
    from keyring.backends import chainer

    written: list[str] = []

    class PlaintextKeyring(KeyringBackend):
        priority = 0.5  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return None

        def set_password(self, service: str, username: str, password: str) -> None:
            written.append(password)

        def delete_password(self, service: str, username: str) -> None:
            pass

    PlaintextKeyring.__module__ = "keyrings.alt.file"
    backend: KeyringBackend = PlaintextKeyring()
    if chained:

        class Chain(chainer.ChainerBackend):
            backends = (PlaintextKeyring(),)  # type: ignore[assignment]

        backend = Chain()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    with pytest.raises(kr.KeyringUnavailable, match="keeps secrets in a file"):
        kr.set_secret("prod", "t0k")
    assert written == []


def test_configured_null_backend_is_refused() -> None:
    with pytest.raises(kr.KeyringUnavailable):
        kr.read_secret_fast("prod", {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})


def test_isolated_store_refuses_to_work_outside_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_DIR, raising=False)
    with pytest.raises(keyring_backend.IsolatedStoreError):
        keyring_backend.light_get_password("ztctl", "prod")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[backend]\ndefault-keyring=a.b.C\n", "a.b.C"),
        ("[backend]\ndefault-keyring: a.b.C\n", "a.b.C"),
        ("# c\n[other]\ndefault-keyring=x.Y\n", None),
        ("[backend]\nkeyring-path=/tmp\ndefault-keyring=a.b.C\n", "?"),
        ("", None),
    ],
)
def test_keyringrc_parsing(tmp_path: Path, text: str, expected: str | None) -> None:
    rc = tmp_path / "python_keyring" / "keyringrc.cfg"
    rc.parent.mkdir()
    rc.write_text(text)
    assert kr._keyringrc_backend({"XDG_CONFIG_HOME": str(tmp_path)}) == expected
