"""ztctl's keyring adapter and the credential fast path against a *real* Secret Service.

Each test gets its own provider: a private D-Bus session bus (``dbus-daemon`` with a bus
config of its own, so nothing is auto-started from the machine's service files) and
``gnome-keyring-daemon --unlock --components=secrets`` on it, with a throw-away password on
stdin, its keyrings under ``tmp_path`` and its sockets in a short private directory. The
developer's own session bus, keyrings and display are never reached: every process here gets
``DBUS_SESSION_BUS_ADDRESS`` of the private bus, a private ``HOME``/``XDG_*`` and no
``DISPLAY``; with no prompter on that bus, an unlock prompt fails at once instead of
showing a window.

Skipped, with the reason, where ``dbus-daemon`` or ``gnome-keyring-daemon`` is not
installed (Debian: ``apt-get install --no-install-recommends dbus-daemon gnome-keyring``)
or the daemon does not come up.

``secretstorage`` (what keyring's backend is built on) is used only as the independent
reference client that looks at what is really in the store, and to lock the collection.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.access import EXEC_V1, REPO, exec_kubeconfig, ztctl_argv

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the Secret Service is a Linux desktop API"
)

SECRETS_BUS_NAME = "org.freedesktop.secrets"
START_TIMEOUT_S = 10.0
# Variables that could point a process at the developer's own store, bus or display.
SCRUBBED = (
    "DBUS_SESSION_BUS_ADDRESS",
    "DBUS_STARTER_ADDRESS",
    "DBUS_STARTER_BUS_TYPE",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "GNOME_KEYRING_CONTROL",
    "PYTHON_KEYRING_BACKEND",
    "ZTCTL_TEST_KEYRING_DIR",
)

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def clean_environ(base: dict[str, str] | None = None) -> dict[str, str]:
    source = dict(os.environ if base is None else base)
    return {
        key: value
        for key, value in source.items()
        if key not in SCRUBBED and not key.startswith("KEYRING_PROPERTY_")
    }


@dataclass
class PrivateBus:
    """A private D-Bus session bus; ``env`` points a process at it (and a private home)."""

    address: str
    env: dict[str, str]
    logs: Path

    def connect(self) -> Any:
        from jeepney.io.blocking import open_dbus_connection

        return open_dbus_connection(bus=self.address)

    def call(self, method: str, signature: str = "", *args: Any) -> Any:
        """A method of the Secret Service object; raises on a D-Bus error reply."""
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import unwrap_msg

        service = DBusAddress(
            "/org/freedesktop/secrets",
            bus_name=SECRETS_BUS_NAME,
            interface="org.freedesktop.Secret.Service",
        )
        conn = self.connect()
        try:
            message = new_method_call(service, method, signature, args)
            return unwrap_msg(conn.send_and_get_reply(message, timeout=2))
        finally:
            conn.close()

    def has_provider(self) -> bool:
        from jeepney.bus_messages import message_bus
        from jeepney.wrappers import unwrap_msg

        conn = self.connect()
        try:
            reply = conn.send_and_get_reply(message_bus.NameHasOwner(SECRETS_BUS_NAME), timeout=1)
            return bool(unwrap_msg(reply)[0])
        finally:
            conn.close()


@dataclass
class SecretServiceDaemon(PrivateBus):
    """The private bus with gnome-keyring's Secret Service on it."""

    def items(self, service: str = "ztctl") -> list[tuple[dict[str, str], str]]:
        """``(attributes, secret)`` of every item of ``service`` in the default collection,
        read by an independent client (secretstorage), unlocked collection only."""
        import secretstorage

        conn = self.connect()
        try:
            collection = secretstorage.get_default_collection(conn)
            assert not collection.is_locked()
            return [
                (item.get_attributes(), item.get_secret().decode("utf-8"))
                for item in collection.search_items({"service": service})
            ]
        finally:
            conn.close()

    def store_as_other_client(self, username: str, secret: str) -> None:
        """An item written by another Secret Service client (as `secret-tool store` would):
        only the ``service`` and ``username`` attributes, no keyring ``application``."""
        import secretstorage

        conn = self.connect()
        try:
            collection = secretstorage.get_default_collection(conn)
            collection.create_item(
                f"ztctl token {username}",
                {"service": "ztctl", "username": username},
                secret.encode("utf-8"),
                replace=True,
            )
        finally:
            conn.close()

    def lock(self) -> None:
        """Lock the default collection through the Secret Service ``Lock`` method."""
        import secretstorage

        conn = self.connect()
        try:
            collection = secretstorage.get_default_collection(conn)
            collection.lock()
            assert collection.is_locked()
        finally:
            conn.close()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()[-300:]
    except OSError:
        return ""


def _need(*programs: str) -> list[str]:
    paths = {name: shutil.which(name) for name in programs}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        pytest.skip(
            f"no real Secret Service provider here: {' and '.join(missing)} not installed "
            "(apt-get install --no-install-recommends dbus-daemon gnome-keyring)"
        )
    return [str(paths[name]) for name in programs]


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[PrivateBus]:
    """A private D-Bus session bus with nothing on it (and no service activation)."""
    (dbus_daemon,) = _need("dbus-daemon")
    # Unix socket paths are limited to ~108 bytes: sockets go in a short private directory
    # (also XDG_RUNTIME_DIR, where gnome-keyring puts its control socket); keyrings, config
    # and logs under tmp_path.
    sockets = Path(tempfile.mkdtemp(prefix="ztss-"))
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    (home / "config").mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    socket = sockets / "bus"
    config = tmp_path / "bus.conf"
    config.write_text(BUS_CONFIG.format(socket=socket), encoding="utf-8")
    address = f"unix:path={socket}"
    env = {
        **clean_environ(),
        "DBUS_SESSION_BUS_ADDRESS": address,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "XDG_RUNTIME_DIR": str(sockets),
    }
    with open(logs / "dbus-daemon.log", "wb") as log:
        bus = subprocess.Popen(
            [
                dbus_daemon,
                f"--config-file={config}",
                "--nofork",
                "--nopidfile",
                "--print-address=1",
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
        )
    try:
        assert bus.stdout is not None
        if not bus.stdout.readline():  # the address is printed once the bus listens
            pytest.skip(f"dbus-daemon did not start a bus: {_tail(logs / 'dbus-daemon.log')}")
        yield PrivateBus(address, env, logs)
    finally:
        _stop(bus)
        if bus.stdout is not None:
            bus.stdout.close()
        shutil.rmtree(sockets, ignore_errors=True)


def start_gnome_keyring(bus: PrivateBus, *, unlock: bool) -> subprocess.Popen[bytes]:
    """gnome-keyring-daemon's Secret Service on ``bus``. With ``unlock``, a login keyring
    (the default collection) is created, or unlocked, with a throw-away password on stdin;
    without, the service starts with no collection. Ready when it owns its bus name (and,
    with ``unlock``, the default alias points at a collection)."""
    (gnome_keyring,) = _need("gnome-keyring-daemon")
    argv = [gnome_keyring, "--foreground", "--components=secrets"]
    log_path = bus.logs / "gnome-keyring.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [*argv, "--unlock"] if unlock else argv,
            env=bus.env,
            stdin=subprocess.PIPE if unlock else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    if unlock:
        assert proc.stdin is not None
        proc.stdin.write(b"ztctl-test-keyring-password")  # --unlock reads it to EOF
        proc.stdin.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            ready = bus.has_provider() and (
                not unlock or bus.call("ReadAlias", "s", "default")[0] not in ("", "/")
            )
        except Exception:
            ready = False
        if ready:
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.skip(
                "gnome-keyring-daemon did not provide a Secret Service within "
                f"{START_TIMEOUT_S:.0f} s: {_tail(log_path)}"
            )
        time.sleep(0.05)


@pytest.fixture
def secret_service(private_bus: PrivateBus) -> Iterator[SecretServiceDaemon]:
    """A private D-Bus session bus with gnome-keyring's Secret Service, unlocked."""
    proc = start_gnome_keyring(private_bus, unlock=True)
    try:
        yield SecretServiceDaemon(private_bus.address, private_bus.env, private_bus.logs)
    finally:
        _stop(proc)


@pytest.fixture
def in_process(secret_service: SecretServiceDaemon, monkeypatch: pytest.MonkeyPatch) -> Any:
    """This process uses the private Secret Service through keyring's own backend."""
    import keyring
    from keyring.backends import SecretService

    for key in list(os.environ):
        if key in SCRUBBED or key.startswith("KEYRING_PROPERTY_"):
            monkeypatch.delenv(key)
    for key, value in secret_service.env.items():
        if key == "DBUS_SESSION_BUS_ADDRESS" or key.startswith("XDG_") or key == "HOME":
            monkeypatch.setenv(key, value)
    backend = SecretService.Keyring()
    monkeypatch.setattr(keyring.core, "_keyring_backend", backend)
    return backend


def unsigned_jwt(ttl_s: float = 3600, email: str = "ada@lab.example") -> str:
    """A JWT the hit path accepts (it decodes claims, never verifies signatures)."""

    def b64(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {"aud": ["a" * 64], "email": email, "exp": now + int(ttl_s), "iat": now}
    claims |= {"nbf": now, "type": "app", "iss": "https://lab.cloudflareaccess.com"}
    return f"{b64({'alg': 'RS256', 'typ': 'JWT'})}.{b64(claims)}.{'s' * 342}"


def run_python(
    code: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    pythonpath = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- keyring's SecretService backend through ztctl's adapter ------------------------------


def test_adapter_stores_reads_replaces_and_deletes(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    from ztctl.adapters import keyring as kr

    assert kr.describe_backend() == "keyring.backends.SecretService.Keyring"
    first, second = unsigned_jwt(), unsigned_jwt(ttl_s=7200)
    kr.set_secret("prod", first)
    [(attributes, secret)] = secret_service.items()
    assert secret == first
    assert attributes["service"] == "ztctl"
    assert attributes["username"] == "prod"
    assert "application" in attributes  # keyring's own marker; the readers must not need it
    assert kr.get_secret("prod") == first
    assert kr._secret_service_get("ztctl", "prod") == first  # the D-Bus reader itself
    assert kr.read_secret_fast("prod") == first

    kr.set_secret("prod", second)  # replaced in place, not a second item
    assert [s for _a, s in secret_service.items()] == [second]
    assert kr._secret_service_get("ztctl", "prod") == second

    assert kr.delete_secret("prod") is True
    assert secret_service.items() == []
    assert kr.get_secret("prod") is None
    assert kr.read_secret_fast("prod") is None
    assert kr.delete_secret("prod") is False


def test_item_of_another_client_reads_the_same_both_ways(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    from ztctl.adapters import keyring as kr

    token = unsigned_jwt()
    secret_service.store_as_other_client("staging", token)
    assert kr.get_secret("staging") == token
    assert kr._secret_service_get("ztctl", "staging") == token
    assert kr.read_secret_fast("staging") == token
    assert kr._secret_service_get("ztctl", "other") is None


def test_a_foreign_item_of_the_same_name_is_replaced_not_shadowing(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    """keyring's ``replace=True`` matches only items with its own ``application``
    attribute: unless ztctl removes every item of the name first, the stale foreign item
    stays, and gnome-keyring returns it first to every reader."""
    from ztctl.adapters import keyring as kr

    stale, fresh = unsigned_jwt(ttl_s=-60), unsigned_jwt()
    secret_service.store_as_other_client("prod", stale)
    in_process.set_password("ztctl", "prod", "another")  # keyring alone: a second item
    assert sorted(s for _a, s in secret_service.items()) == sorted([stale, "another"])

    kr.set_secret("prod", fresh)
    assert [s for _a, s in secret_service.items()] == [fresh]
    assert kr._secret_service_get("ztctl", "prod") == fresh


def test_delete_removes_every_copy(secret_service: SecretServiceDaemon, in_process: Any) -> None:
    from ztctl.adapters import keyring as kr

    secret_service.store_as_other_client("prod", unsigned_jwt())
    in_process.set_password("ztctl", "prod", unsigned_jwt(ttl_s=60))
    assert len(secret_service.items()) == 2
    assert kr.delete_secret("prod") is True  # `ztctl logout` leaves no token behind
    assert secret_service.items() == []
    assert kr._secret_service_get("ztctl", "prod") is None


# -- the fast path in its own process, as kubectl runs it ----------------------------------

FAST_READ = """
import json, sys
from ztctl.adapters.keyring import read_secret_fast
value = read_secret_fast(sys.argv[1] if len(sys.argv) > 1 else {name!r})
print(json.dumps({{"value": value, "modules": sorted(sys.modules)}}))
"""

ENTRY = """
import json, sys
sys.argv = ["ztctl", "credential", {name!r}]
from ztctl.cli.entry import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
sys.__stderr__.write("\\n" + json.dumps({{"code": code, "modules": sorted(sys.modules)}}))
"""

HEAVY = ("keyring", "secretstorage", "cryptography", "httpx", "kubernetes", "rich", "click")


def test_fast_path_reads_what_keyring_wrote_without_importing_keyring(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    from ztctl.adapters import keyring as kr

    token = unsigned_jwt()
    kr.set_secret("lab-sso", token)  # keyring's SecretService backend writes it
    info = json.dumps({"apiVersion": EXEC_V1, "kind": "ExecCredential", "spec": {}})
    # The fast path serves only a token of the configured team (its `iss`).
    config = Path(secret_service.env["HOME"]) / "team.toml"
    config.write_text('team = "lab"\n', encoding="utf-8")
    env = {**secret_service.env, "KUBERNETES_EXEC_INFO": info, "ZTCTL_CONFIG": str(config)}
    result = run_python(ENTRY.format(name="lab-sso"), env)
    report = json.loads(result.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, result.stderr
    assert json.loads(result.stdout)["status"]["token"] == token
    modules = set(report["modules"])
    assert "jeepney.io.blocking" in modules  # the D-Bus reader answered ...
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY) == []  # ... and only it


def test_fast_path_miss_is_rechecked_with_keyring(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    from ztctl.adapters import keyring as kr

    kr.set_secret("prod", unsigned_jwt())
    result = run_python(FAST_READ.format(name="absent"), secret_service.env)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["value"] is None
    assert "keyring.backends.SecretService" in answer["modules"]  # the miss went to keyring


def test_keyring_reads_what_another_client_wrote_in_a_subprocess(
    secret_service: SecretServiceDaemon,
) -> None:
    token = unsigned_jwt()
    secret_service.store_as_other_client("prod", token)
    code = (
        "import json; from ztctl.adapters import keyring as kr; "
        "print(json.dumps([kr.get_secret('prod'), kr.read_secret_fast('prod')]))"
    )
    result = run_python(code, secret_service.env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [token, token]


def test_locked_collection_is_exit_4_with_the_fix(
    secret_service: SecretServiceDaemon, in_process: Any
) -> None:
    from ztctl.adapters import keyring as kr

    token = unsigned_jwt()
    kr.set_secret("lab-sso", token)
    secret_service.lock()
    with pytest.raises(kr.KeyringLocked) as caught:
        kr.read_secret_fast("lab-sso")
    assert caught.value.exit_code == 4
    assert "unlock" in caught.value.fix
    with pytest.raises(kr.KeyringLocked):
        kr.set_secret("lab-sso", unsigned_jwt())

    info = json.dumps({"apiVersion": EXEC_V1, "kind": "ExecCredential", "spec": {}})
    result = subprocess.run(
        [*ztctl_argv(), "credential", "lab-sso"],
        env={**secret_service.env, "KUBERNETES_EXEC_INFO": info, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "locked" in result.stderr and "fix: unlock your login keyring" in result.stderr
    assert token not in result.stderr


# -- real kubectl, its exec entry reading the real Secret Service --------------------------


@pytest.fixture
def lab_env(
    lab: Any, secret_service: SecretServiceDaemon, tmp_path: Path
) -> Iterator[dict[str, str]]:
    """The lab's environment (catalog, cloudflared stand-in, API server) with the real
    Secret Service as the only keyring: no PYTHON_KEYRING_BACKEND, no keyringrc."""
    shutil.rmtree(lab.dir / "cloudflared", ignore_errors=True)
    pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {
        **clean_environ(lab.env),
        **{
            k: v
            for k, v in secret_service.env.items()
            if k == "HOME" or k.startswith(("DBUS_", "XDG_"))
        },
        "ZTCTL_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": pythonpath,
    }
    try:
        yield env
    finally:
        shutil.rmtree(lab.dir / "cloudflared", ignore_errors=True)


def whoami(lab: Any, kubectl: str, kubeconfig: Path, env: dict[str, str]) -> Any:
    return lab.run(
        [
            kubectl,
            "--request-timeout=5s",
            "--kubeconfig",
            kubeconfig,
            "auth",
            "whoami",
            "-o",
            "json",
        ],
        env=env,
    )


@pytest.mark.kubectl
def test_kubectl_authenticates_with_the_token_in_the_secret_service(
    lab: Any,
    kubectl: str,
    secret_service: SecretServiceDaemon,
    lab_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from ztctl.lab.jwt import issue_token

    token = issue_token(lab.dir, lab.server)
    stored = run_python(
        f"from ztctl.adapters import keyring as kr; kr.set_secret('lab-sso', {token!r})", lab_env
    )
    assert stored.returncode == 0, stored.stderr
    assert [s for _a, s in secret_service.items()] == [token]
    kubeconfig = exec_kubeconfig(lab, tmp_path / "kubeconfig")
    result = whoami(lab, kubectl, kubeconfig, lab_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == "ada@lab.example"


@pytest.mark.kubectl
def test_kubectl_refresh_writes_the_new_token_to_the_secret_service(
    lab: Any,
    kubectl: str,
    secret_service: SecretServiceDaemon,
    lab_env: dict[str, str],
    tmp_path: Path,
) -> None:
    from ztctl.lab.cloudflared import app_token_path
    from ztctl.lab.jwt import issue_token

    secret_service.store_as_other_client(
        "lab-sso", issue_token(lab.dir, lab.server, now=time.time() - 7200)
    )
    kubeconfig = exec_kubeconfig(lab, tmp_path / "kubeconfig")
    failed = whoami(lab, kubectl, kubeconfig, lab_env)
    assert failed.returncode != 0
    assert "ztctl login" in failed.stderr

    fresh = issue_token(lab.dir, lab.server)
    path = app_token_path(lab.dir, lab.server)
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text(fresh)
    result = whoami(lab, kubectl, kubeconfig, lab_env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"]["userInfo"]["username"] == "ada@lab.example"
    assert [s for _a, s in secret_service.items()] == [fresh]


# -- no store to keep tokens in: an error with the fix, never a file -----------------------


def run_credential(env: dict[str, str], cluster: str = "lab-sso") -> Any:
    info = json.dumps({"apiVersion": EXEC_V1, "kind": "ExecCredential", "spec": {}})
    return subprocess.run(
        [*ztctl_argv(), "credential", cluster],
        env={**env, "KUBERNETES_EXEC_INFO": info, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_no_provider_on_the_bus(private_bus: PrivateBus) -> None:
    """A session bus without any Secret Service (a headless login): keyring finds no
    backend, and ztctl says what to start, exit 4."""
    result = run_credential(private_bus.env)
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "no usable OS keyring" in result.stderr
    assert "fix: start a Secret Service provider" in result.stderr
    assert "never falls back to plain files" in result.stderr
    assert not list(Path(private_bus.env["HOME"]).rglob("*.json"))  # nothing written aside


def test_provider_without_a_default_collection(private_bus: PrivateBus) -> None:
    """gnome-keyring running with no keyring yet: creating the default collection needs a
    prompt, which cannot be shown here; the fast reader defers to keyring, which fails, and
    ztctl explains (exit 4) instead of hanging or writing elsewhere."""
    proc = start_gnome_keyring(private_bus, unlock=False)
    try:
        assert private_bus.call("ReadAlias", "s", "default") == ("/",)
        result = run_credential(private_bus.env)
    finally:
        _stop(proc)
    assert result.returncode == 4, result.stderr
    assert result.stdout == ""
    assert "has no default keyring" in result.stderr
    assert "fix: create a default keyring" in result.stderr
