"""Parsing and validating a catalog's text (docs/catalog.md): every problem is collected
(file, cluster, field, and the right name for a misspelt key) before failing, so a platform
engineer fixes the file in one pass. Reading the text (a path, or an https URL with its
cache) is :mod:`ztctl.core.catalog`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ztctl.core.duration import format_duration, parse_duration
from ztctl.core.model import (
    AccessToken,
    BreakGlass,
    Catalog,
    ClientCertificate,
    Cluster,
    Credentials,
    ExecCredential,
    ProxyRoute,
    Route,
    SshRoute,
    VpnRoute,
)
from ztctl.core.redact import hide_passwords as hide_passwords  # re-exported: its old home
from ztctl.core.redact import hide_query_secrets
from ztctl.core.suggest import did_you_mean
from ztctl.errors import InvalidInput

API_VERSION = "ztctl/v1"
KIND = "ClusterCatalog"
# Always used with fullmatch: `$` would accept a trailing newline ("lab\n").
NAME_RE = re.compile(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?")
DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_MAX_TTL_S = 3600
MAX_TTL_LIMIT_S = 7 * 86400  # no break-glass session, and no catalog maxTtl, beyond 7 days
MAX_CATALOG_BYTES = 4 * 1024 * 1024
MAX_PROBLEMS = 50  # listed; the rest are counted
QUOTE_LIMIT = 80  # characters of an input value quoted in a message
# exec env names a catalog may not set: they change what runs, not what the plugin reads.
FORBIDDEN_ENV_PREFIXES = ("LD_", "DYLD_", "PYTHON")
FORBIDDEN_ENV_NAMES = ("PATH",)

_TOP_KEYS = ["apiVersion", "kind", "team", "clusters"]
_CLUSTER_KEYS = [
    "name",
    "server",
    "addresses",
    "certificateAuthority",
    "certificateAuthorityData",
    "namespace",
    "credentials",
    "breakGlass",
]
_CREDENTIAL_KINDS = ["clientCertificate", "exec", "accessToken"]
_CREDENTIAL_KEYS = [*_CREDENTIAL_KINDS, "clientKey"]
_EXEC_KEYS = ["command", "args", "env"]
_ACCESS_KEYS = ["app"]
_BREAK_GLASS_KEYS = ["maxTtl", "proxy", "ssh", "vpn"]
_ROUTE_KINDS = ["proxy", "ssh", "vpn"]
_SSH_KEYS = ["host", "user", "port", "identityFile"]
_VPN_KEYS = ["up", "down", "interface"]
_PROXY_SCHEMES = ("socks5", "socks5h", "http", "https")


# ---------------------------------------------------------------------------------------
# Parsing and validation


def _load_yaml(text: str, label: str) -> Any:
    """The document, refusing what a catalog never needs and an attacker would use.

    Aliases (``*a``) are refused before anything is built: nested aliases expand
    exponentially (a 1 KB "billion laughs" catalog takes gigabytes). Duplicate keys are
    refused too: YAML says they are an error, and last-wins would hide an edit.
    """
    from ztctl.core.pyyaml import yaml

    if len(text) > MAX_CATALOG_BYTES:
        raise InvalidInput(
            f"catalog {label} is larger than {MAX_CATALOG_BYTES // (1024 * 1024)} MiB",
            "point --catalog at the catalog YAML file (see docs/catalog.md)",
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                mark = event.start_mark  # both parsers give every event its place
                at = f" at line {mark.line + 1}, column {mark.column + 1}"
                raise InvalidInput(
                    f"catalog {label} uses a YAML alias (*{quote(event.anchor)}){at}",
                    "write the value out in full: catalogs may not use anchors and aliases",
                )
        return yaml.load(text, Loader=_unique_keys_loader(loader))  # a safe loader
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, label) from None


def _yaml_error(exc: Exception, text: str, label: str) -> InvalidInput:
    """A YAML error as a person can act on it: the line and column, what is wrong in
    plain words where PyYAML's are obscure, and where to look."""
    from ztctl.core.pyyaml import yaml

    head = f"catalog {label} is not valid YAML"
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML never allows
        # The reader gives an offset (in bytes from libyaml): find the character instead.
        index = text.find(chr(exc.character))
        line = text.count("\n", 0, index) + 1
        column = index - text.rfind("\n", 0, index)
        return InvalidInput(
            f"{head} at line {line}, column {column}: "
            f"the character U+{exc.character:04X} is not allowed in YAML",
            f"delete that character at line {line} (a catalog is plain text)",
        )
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        problem = bounded(str(exc).splitlines()[0])
        return InvalidInput(f"{head}: {problem}", "see docs/catalog.md for the format")
    mark = exc.problem_mark
    problem = bounded(str(exc.problem))  # every marked error names its problem
    line, column = mark.line + 1, mark.column + 1
    at = f"{head} at line {line}, column {column}"
    lines = text.splitlines()  # YAML's line breaks (\r too); the reader refused the others
    if mark.line < len(lines) and lines[mark.line][mark.column : mark.column + 1] == "\t":
        return InvalidInput(
            f"{at}: a tab, where YAML allows only spaces",
            f"indent line {line} with spaces, not tabs (see docs/catalog.md for the format)",
        )
    if problem == "but found another document":
        return InvalidInput(
            f"catalog {label} holds more than one YAML document (the second from line {line})",
            f"keep one: a catalog is one document; delete the `---` at line {line} and "
            "merge what follows into the first, or delete it (see docs/catalog.md)",
        )
    if isinstance(exc, yaml.constructor.ConstructorError):  # a duplicate key, a tag
        return InvalidInput(
            f"{at}: {problem}", f"fix line {line} (see docs/catalog.md for the format)"
        )
    context, start = exc.context, exc.context_mark
    first = line
    if context and start is not None and start.line < mark.line:
        problem += f" ({context} from line {start.line + 1}, column {start.column + 1})"
        first = start.line + 1
    lines_named = f"line {line}" if first == line else f"lines {first} to {line}"
    return InvalidInput(
        f"{at}: {problem}",
        f"check {lines_named}: indent with spaces that line up, close every quote and "
        "bracket (see docs/catalog.md for the format)",
    )


_LOADERS: dict[type, type] = {}


def _unique_keys_loader(base: type) -> type:
    """``base`` with a constructor that refuses a key given twice in one mapping."""
    if base in _LOADERS:
        return _LOADERS[base]
    import yaml

    class UniqueKeyLoader(base):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _value in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = self.construct_object(key_node, deep=deep)
                    try:
                        duplicate = key in seen
                        seen.add(key)
                    except TypeError:
                        continue
                    if duplicate:
                        raise yaml.constructor.ConstructorError(
                            None,
                            None,
                            f"duplicate key {quote(str(key))} (YAML keys must be unique; keep one)",
                            key_node.start_mark,
                        )
            return super().construct_mapping(node, deep=deep)

    _LOADERS[base] = UniqueKeyLoader
    return UniqueKeyLoader


def bounded(text: str, limit: int = 4 * QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters (messages never grow with the input)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quote(value: Any, limit: int = QUOTE_LIMIT) -> str:
    """A short, escaped quotation of an input value for a message.

    Strings are quoted (``repr``: control and bidi characters come out escaped) and cut to
    ``limit`` characters; anything else is named by its type, never expanded.
    """
    if isinstance(value, str):
        shown = value if len(value) <= limit else value[:limit]
        text = repr(shown)
        return text if shown is value else text[:-1] + "…" + text[-1]
    if value is None or isinstance(value, bool | int | float):
        return bounded(repr(value), limit)
    return f"a {_yaml_type(value)}"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (and quoted, bounded); a user name
    without a password (``https://TOKEN@host``) is hidden whole, and so is everything before
    the last ``@`` of a URL that does not parse (a raw ``/`` in the password, say)."""
    try:
        parts = urlsplit(url)
        password = parts.password
        parts.port  # noqa: B018 - a bad port: the netloc was not read as the user meant
    except ValueError:
        scheme, sep, rest = url.partition("://")
        if "@" not in rest:
            return quote(hide_query_secrets(url))
        return quote(hide_query_secrets(f"{scheme}{sep}***@{rest.rsplit('@', 1)[-1]}"))
    if "@" not in parts.netloc:
        return quote(hide_query_secrets(url))
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = "***" if password is None else f"{parts.username or ''}:***"
    return quote(hide_query_secrets(parts._replace(netloc=f"{userinfo}@{host}").geturl()))


_CONTROL_OR_BIDI = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def has_control_or_bidi(text: str) -> bool:
    """Control characters (C0, DEL, C1) or bidi overrides: never in a name or a reason."""
    return _CONTROL_OR_BIDI.search(text) is not None


# In other catalog strings, line breaks and tabs are text (a multi-line `sh -c` script).
_UNSAFE_IN_TEXT = re.compile(
    "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f\\u202a-\\u202e\\u2066-\\u2069]"
)


_UNSAFE_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp"))


class _Problems:
    def __init__(self, label: str) -> None:
        self.label = label
        self.items: list[str] = []
        self.count = 0  # every problem, also those past MAX_PROBLEMS

    def add(self, where: str, message: str) -> None:
        self.count += 1
        if len(self.items) >= MAX_PROBLEMS:
            return
        where, message = bounded(where), bounded(message)
        self.items.append(
            f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}"
        )

    def unknown_keys(self, where: str, data: Mapping[str, Any], allowed: list[str]) -> None:
        for key in data:
            if key not in allowed:
                shown = bounded(str(key), QUOTE_LIMIT)
                field = f"{where}.{shown}" if where else shown
                self.add(field, f"unknown field{did_you_mean(shown, allowed)}")


def parse_catalog(text: str, *, source: str, label: str, base_dir: Path | None) -> Catalog:
    """Validate the catalog document; raise :class:`InvalidInput` listing every problem."""
    document = _load_yaml(text, label)
    problems = _Problems(label)
    if document is None:
        raise InvalidInput(
            f"catalog {label} is empty",
            "fill it in: apiVersion: ztctl/v1, kind: ClusterCatalog, team, clusters "
            "(see docs/catalog.md)",
        )
    if not isinstance(document, dict):
        fix = "make the top level a mapping: apiVersion: ztctl/v1, kind: ClusterCatalog, team"
        if isinstance(document, list):
            fix += ", and the list of clusters under `clusters:`"
        else:
            fix += ", clusters"
        raise InvalidInput(
            f"catalog {label} must be a mapping with apiVersion, kind, team and clusters, "
            f"not a {_yaml_type(document)}",
            f"{fix} (see docs/catalog.md)",
        )
    problems.unknown_keys("", document, _TOP_KEYS)
    _refuse_control_characters(document, "", problems)
    if document.get("apiVersion") != API_VERSION:
        problems.add(
            "apiVersion", f"must be {API_VERSION!r}, got {quote(document.get('apiVersion'))}"
        )
    if document.get("kind") != KIND:
        problems.add("kind", f"must be {KIND!r}, got {quote(document.get('kind'))}")
    team = document.get("team")
    if not isinstance(team, str) or not team.strip():
        problems.add("team", "must be the Zero Trust team name (a non-empty string)")
        team = ""
    elif has_control_or_bidi(team) or len(team) > 253:
        problems.add(
            "team", f"{quote(team)} is not a team name (no control characters, at most 253)"
        )
        team = ""

    clusters: list[Cluster] = []
    raw_clusters = document.get("clusters")
    if not isinstance(raw_clusters, list):
        problems.add("clusters", f"must be a list of clusters, got {_yaml_type(raw_clusters)}")
        raw_clusters = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_clusters):
        cluster = _parse_cluster(raw, index, problems, base_dir)
        # Duplicates are checked on the raw name, so a duplicate with other problems too
        # is still reported as a duplicate.
        name = raw.get("name") if isinstance(raw, dict) else None
        if isinstance(name, str) and name in seen:
            problems.add(
                f"clusters[{index}] ({name if NAME_RE.fullmatch(name) else quote(name)})",
                f"duplicate name; clusters[{seen[name]}] has it already",
            )
            continue
        if isinstance(name, str):
            seen[name] = index
        if cluster is not None:
            clusters.append(cluster)

    if problems.items:
        count = problems.count
        head = problems.items[0] if count == 1 else f"catalog {label} has {count} problems"
        details = list(problems.items) if count > 1 else []
        if count > len(problems.items):
            details.append(f"… and {count - len(problems.items)} more")
        raise InvalidInput(
            head,
            "fix the fields named above (see docs/catalog.md)",
            details=details or None,
        )
    return Catalog(team=str(team), clusters=tuple(clusters), source=source)


def _refuse_control_characters(value: Any, where: str, problems: _Problems) -> None:
    """No string in a catalog needs a control or bidi character; they only disguise text.

    Cluster names are left to the name rule (it already refuses them).
    """
    if isinstance(value, dict):
        for key, item in value.items():
            child = f"{where}.{bounded(str(key), QUOTE_LIMIT)}" if where else str(key)
            if isinstance(key, str) and has_control_or_bidi(key):  # keys are one line
                problems.add(where or "catalog", f"key {quote(key)} has a control character")
            elif not (key == "name" and where.startswith("clusters[")):
                _refuse_control_characters(item, child, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_control_characters(item, f"{where}[{index}]", problems)
    elif isinstance(value, str) and (found := _first_unsafe(value)) is not None:
        if where == "team" and has_control_or_bidi(value):
            return  # the team rule says it
        index, char = found
        name = unicodedata.name(char, "a control character")
        problems.add(
            where,
            f"{quote(value)} has an invisible, control or bidi character, U+{ord(char):04X} "
            f"({name}), at character {index + 1} (none is allowed in a catalog)",
        )


def _first_unsafe(text: str) -> tuple[int, str] | None:
    """The first character no catalog text needs, and where: Unicode categories Cc (control
    characters; tab and line breaks are text), Cf (format: zero-width, bidi, soft hyphen),
    Zl and Zp (U+2028/U+2029, which some terminals and editors break lines at)."""
    if text.isascii():
        match = _UNSAFE_IN_TEXT.search(text)
        return (match.start(), match.group()) if match else None
    for index, char in enumerate(text):
        if char not in "\t\n\r" and unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return index, char
    return None


def _yaml_type(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "mapping",
        list: "list",
        str: "string",
        int: "number",
        float: "number",
        bool: "boolean",
    }.get(type(value), type(value).__name__)


def _parse_cluster(
    raw: Any, index: int, problems: _Problems, base_dir: Path | None
) -> Cluster | None:
    if not isinstance(raw, dict):
        problems.add(f"clusters[{index}]", f"must be a mapping, got {_yaml_type(raw)}")
        return None
    name = raw.get("name")
    valid_name = isinstance(name, str) and NAME_RE.fullmatch(name) is not None
    shown = name if valid_name else quote(name)
    where = f"clusters[{index}]" + (f" ({shown})" if isinstance(name, str) else "")
    before = problems.count
    problems.unknown_keys(where, raw, _CLUSTER_KEYS)

    if not valid_name:
        problems.add(
            f"{where}.name",
            f"{quote(name)} is not a valid name (lowercase letters, digits, '.', '_', '-'; "
            "starts and ends with a letter or digit; at most 63 characters)",
        )
    server = raw.get("server")
    if not isinstance(server, str):
        problems.add(f"{where}.server", "is required: the API server URL, https://HOST:PORT")
    else:
        _check_server(server, f"{where}.server", problems)

    addresses: list[str] = []
    raw_addresses = raw.get("addresses")
    if not isinstance(raw_addresses, list) or not raw_addresses:
        problems.add(f"{where}.addresses", "is required: a list of the API server's IP addresses")
    else:
        for i, address in enumerate(raw_addresses):
            try:
                addresses.append(str(ipaddress.ip_address(str(address))))
            except ValueError:
                problems.add(f"{where}.addresses[{i}]", f"{quote(address)} is not an IP address")

    ca_path, ca_data = _parse_ca(raw, where, problems, base_dir)

    namespace = raw.get("namespace")
    if namespace is not None and (
        not isinstance(namespace, str) or not DNS_LABEL_RE.fullmatch(namespace)
    ):
        problems.add(
            f"{where}.namespace", f"{quote(namespace)} is not a valid namespace (DNS-1123 label)"
        )
        namespace = None

    credentials = _parse_credentials(
        raw.get("credentials"), f"{where}.credentials", problems, base_dir
    )
    break_glass = None
    if raw.get("breakGlass") is not None:
        break_glass = _parse_break_glass(
            raw["breakGlass"], f"{where}.breakGlass", problems, base_dir
        )

    if problems.count != before or credentials is None:
        return None
    assert isinstance(name, str) and isinstance(server, str)
    return Cluster(
        name=name,
        server=server,
        addresses=tuple(addresses),
        credentials=credentials,
        certificate_authority=ca_path,
        certificate_authority_data=ca_data,
        namespace=namespace,
        break_glass=break_glass,
    )


def _parse_ca(
    raw: dict[str, Any], where: str, problems: _Problems, base_dir: Path | None
) -> tuple[Path | None, str | None]:
    """Exactly one of certificateAuthority (a file) and certificateAuthorityData."""
    has_path = "certificateAuthority" in raw
    has_data = "certificateAuthorityData" in raw
    if has_path and has_data:
        problems.add(
            where,
            "has both certificateAuthority and certificateAuthorityData; keep exactly one",
        )
    elif not has_path and not has_data:
        problems.add(where, "needs certificateAuthority (a PEM file) or certificateAuthorityData")
    elif has_path:
        path = raw["certificateAuthority"]
        return _resolve_path(path, f"{where}.certificateAuthority", problems, base_dir), None
    else:
        data = raw["certificateAuthorityData"]
        return None, _check_ca_data(data, f"{where}.certificateAuthorityData", problems)
    return None, None


def _check_server(server: str, where: str, problems: _Problems) -> None:
    try:
        parts = urlsplit(server)
    except ValueError:  # e.g. an unclosed IPv6 bracket: https://[::1:6443
        problems.add(where, f"{redact_url(server)} is not a URL (an IPv6 host goes in brackets)")
        return
    if parts.scheme != "https":
        problems.add(where, f"{redact_url(server)} must use https:// (the API server speaks TLS)")
        return
    if "@" in parts.netloc:
        problems.add(
            where,
            f"{redact_url(server)} carries a user name or password: remove USER:PASSWORD@ "
            "(credentials go under credentials:, never in the URL)",
        )
        return
    try:
        port = parts.port
    except ValueError:
        problems.add(where, f"{quote(server)} has an invalid port")
        return
    if not parts.hostname:
        problems.add(where, f"{quote(server)} has no host name")
    if port is None:
        return
    if not 0 < port < 65536:
        problems.add(where, f"{quote(server)} has an invalid port")


def _resolve_path(
    value: Any, where: str, problems: _Problems, base_dir: Path | None
) -> Path | None:
    if not isinstance(value, str) or not value.strip():
        problems.add(where, "must be a file path")
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if path.is_absolute():
        _check_regular(path, where, problems)
        return path
    if base_dir is None:
        problems.add(
            where,
            f"relative path {quote(value)} in a catalog served over https cannot be resolved; "
            "use an absolute or ~ path, or certificateAuthorityData",
        )
        return None
    return path  # under a relative base_dir (joined above)


def _check_regular(path: Path, where: str, problems: _Problems) -> None:
    """A path that exists must be a regular file: a device or FIFO would be read forever.

    A missing file is not a catalog problem (a client certificate may be issued later);
    ``doctor`` reports it.
    """
    import stat

    try:
        st = path.stat()  # stat, not open: a FIFO cannot block here
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        from ztctl.adapters.fs import kind_of

        problems.add(where, f"{quote(str(path))} is {kind_of(st.st_mode)}, not a regular file")


def _check_ca_data(value: Any, where: str, problems: _Problems) -> str | None:
    from ztctl.core.kubeconfig.gobase64 import decode_std

    if not isinstance(value, str):
        problems.add(where, "must be the base64 of a PEM certificate")
        return None
    try:  # as kubectl will decode it once written into the kubeconfig
        decoded = decode_std(value)
    except ValueError:
        problems.add(where, "is not valid base64 (it must be the base64 of a PEM certificate)")
        return None
    if b"-----BEGIN CERTIFICATE-----" not in decoded:
        problems.add(where, "does not decode to a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return None
    return value


def _exactly_one(
    data: Mapping[str, Any], kinds: list[str], where: str, problems: _Problems
) -> str | None:
    present = [k for k in kinds if data.get(k) is not None]
    if len(present) == 1:
        return present[0]
    if not present:
        problems.add(where, f"needs exactly one of {', '.join(kinds)}")
    else:
        problems.add(where, f"has {' and '.join(present)}; keep exactly one of {', '.join(kinds)}")
    return None


def _parse_credentials(
    raw: Any, where: str, problems: _Problems, base_dir: Path | None
) -> Credentials | None:
    if not isinstance(raw, dict):
        problems.add(where, "is required: clientCertificate + clientKey, exec, or accessToken")
        return None
    problems.unknown_keys(where, raw, _CREDENTIAL_KEYS)
    kind = _exactly_one(raw, _CREDENTIAL_KINDS, where, problems)
    if kind is None:
        return None
    if kind == "clientCertificate":
        cert = _resolve_path(
            raw["clientCertificate"], f"{where}.clientCertificate", problems, base_dir
        )
        if raw.get("clientKey") is None:
            problems.add(f"{where}.clientKey", "is required with clientCertificate")
            return None
        key = _resolve_path(raw["clientKey"], f"{where}.clientKey", problems, base_dir)
        if cert is None or key is None:
            return None
        return ClientCertificate(certificate=cert, key=key)
    if raw.get("clientKey") is not None:
        problems.add(f"{where}.clientKey", f"only goes with clientCertificate, not {kind}")
    if kind == "exec":
        return _parse_exec(raw["exec"], f"{where}.exec", problems)
    access = raw["accessToken"]
    if not isinstance(access, dict):
        problems.add(f"{where}.accessToken", "must be a mapping with app: https://...")
        return None
    problems.unknown_keys(f"{where}.accessToken", access, _ACCESS_KEYS)
    app = access.get("app")
    try:
        app_parts = urlsplit(app) if isinstance(app, str) else None
    except ValueError:
        app_parts = None
    if (
        not isinstance(app, str)
        or app_parts is None
        or app_parts.scheme != "https"
        or not app_parts.hostname
        or "@" in app_parts.netloc
    ):
        problems.add(
            f"{where}.accessToken.app",
            "must be the Access application's https URL (no user name or password in it)",
        )
        return None
    return AccessToken(app=app)


def _parse_exec(raw: Any, where: str, problems: _Problems) -> ExecCredential | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with command, args and env")
        return None
    problems.unknown_keys(where, raw, _EXEC_KEYS)
    command = raw.get("command")
    ok = True
    if not isinstance(command, str) or not command.strip():
        problems.add(f"{where}.command", "is required: the plugin executable")
        ok = False
    args = raw.get("args") or []
    if not isinstance(args, list) or not all(isinstance(a, str | int | float) for a in args):
        problems.add(f"{where}.args", "must be a list of strings")
        ok = False
    env = raw.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(k, str) for k in env):
        problems.add(f"{where}.env", "must be a mapping of variable names to values")
        ok = False
    else:
        for key, value in env.items():
            if not ENV_NAME_RE.fullmatch(key):
                problems.add(f"{where}.env", f"{quote(key)} is not a variable name")
                ok = False
            elif key.upper() in FORBIDDEN_ENV_NAMES or key.upper().startswith(
                FORBIDDEN_ENV_PREFIXES
            ):
                problems.add(
                    f"{where}.env.{key}",
                    "may not be set by a catalog (LD_*, DYLD_*, PATH and PYTHON* change which "
                    "code runs); give the plugin's full path in command instead",
                )
                ok = False
            elif not isinstance(value, str | int | float) or isinstance(value, bool):
                problems.add(f"{where}.env.{key}", f"must be a string, got {quote(value)}")
                ok = False
    if not ok:
        return None
    return ExecCredential(
        command=str(command),
        args=tuple(str(a) for a in args),
        env=tuple((str(k), str(v)) for k, v in env.items()),
    )


def _parse_break_glass(
    raw: Any, where: str, problems: _Problems, base_dir: Path | None
) -> BreakGlass | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with maxTtl and one of proxy, ssh, vpn")
        return None
    problems.unknown_keys(where, raw, _BREAK_GLASS_KEYS)
    max_ttl = DEFAULT_MAX_TTL_S
    raw_ttl = raw.get("maxTtl")
    if raw_ttl is not None:
        try:
            if isinstance(raw_ttl, bool) or not isinstance(raw_ttl, str | int):
                raise ValueError(f"{quote(raw_ttl)} is not a duration like 30m, 4h or 1h30m")
            max_ttl = parse_duration(str(raw_ttl))
        except ValueError as exc:
            problems.add(f"{where}.maxTtl", str(exc))
        else:
            if max_ttl > MAX_TTL_LIMIT_S:
                problems.add(
                    f"{where}.maxTtl",
                    f"{quote(raw_ttl)} is longer than {format_duration(MAX_TTL_LIMIT_S)}, the "
                    "longest break-glass session ztctl allows",
                )
    kind = _exactly_one(raw, _ROUTE_KINDS, where, problems)
    route: Route | None = None
    if kind == "proxy":
        route = _parse_proxy(raw["proxy"], f"{where}.proxy", problems)
    elif kind == "ssh":
        route = _parse_ssh(raw["ssh"], f"{where}.ssh", problems, base_dir)
    elif kind == "vpn":
        route = _parse_vpn(raw["vpn"], f"{where}.vpn", problems)
    if route is None:
        return None
    return BreakGlass(route=route, max_ttl_s=max_ttl)


def _parse_proxy(raw: Any, where: str, problems: _Problems) -> ProxyRoute | None:
    if not isinstance(raw, str):
        problems.add(where, "must be a proxy URL such as socks5://127.0.0.1:1080")
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
        scheme, hostname = parts.scheme, parts.hostname
    except ValueError:
        scheme, hostname, port = "", None, None
    if scheme not in _PROXY_SCHEMES or not hostname or port is None:
        problems.add(
            where,
            f"{redact_url(raw)} must be socks5://HOST:PORT, socks5h://HOST:PORT or "
            "http(s)://HOST:PORT",
        )
        return None
    return ProxyRoute(url=raw)


def _parse_ssh(raw: Any, where: str, problems: _Problems, base_dir: Path | None) -> SshRoute | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with host, user, port, identityFile")
        return None
    problems.unknown_keys(where, raw, _SSH_KEYS)
    host = raw.get("host")
    if not isinstance(host, str) or not host.strip() or host.startswith("-"):
        problems.add(f"{where}.host", "is required: the bastion host name")
        return None
    user = raw.get("user")
    if user is not None and (not isinstance(user, str) or user.startswith("-")):
        problems.add(f"{where}.user", "must be a user name")
        return None
    port = raw.get("port", 22)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        problems.add(f"{where}.port", f"{quote(port)} is not a TCP port")
        return None
    identity = None
    if raw.get("identityFile") is not None:
        identity = _resolve_path(raw["identityFile"], f"{where}.identityFile", problems, base_dir)
        if identity is None:
            return None
    return SshRoute(host=host, user=user, port=port, identity_file=identity)


def _parse_vpn(raw: Any, where: str, problems: _Problems) -> VpnRoute | None:
    if not isinstance(raw, dict):
        problems.add(where, "must be a mapping with up, down and interface")
        return None
    problems.unknown_keys(where, raw, _VPN_KEYS)
    ok = True
    commands: dict[str, tuple[str, ...]] = {}
    for key in ("up", "down"):
        value = raw.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            problems.add(f"{where}.{key}", "must be a command as a list, e.g. [wg-quick, up, oob]")
            ok = False
        else:
            commands[key] = tuple(value)
    interface = raw.get("interface")
    if not isinstance(interface, str) or not interface.strip():
        problems.add(f"{where}.interface", "is required: the VPN's network interface")
        ok = False
    if not ok:
        return None
    assert isinstance(interface, str)
    return VpnRoute(up=commands["up"], down=commands["down"], interface=interface)
