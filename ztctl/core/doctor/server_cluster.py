"""The per-cluster server-side checks (``cf.route``, ``cf.tunnel``, ``cf.split-tunnel``,
``cf.inspection``) and the Gateway rule lint behind ``cf.inspection``.

:mod:`.server` builds them into checks and runs them through its guard; they read the API
only through :class:`~ztctl.core.doctor.server.ServerSide`'s memo.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ztctl.adapters.cloudflare import ApiError, ApiErrorKind
from ztctl.core.doctor.runner import Outcome, failed, passed, skipped, warned

if TYPE_CHECKING:
    from ztctl.core.doctor.server import ServerSide
    from ztctl.core.model import Cluster


MIN_CONNECTORS = 2
PLATFORM = "tell the platform team"


# -- cf.route ------------------------------------------------------------------------------


def check_route(
    server: ServerSide, deadline: float, cluster: Cluster, everyone: Sequence[Cluster]
) -> Outcome:
    if not cluster.addresses:
        return skipped("the catalog lists no addresses for this cluster")
    vnet, origin = server.profile_vnet(deadline)
    vnet_label = server.vnet_name(vnet, deadline) if vnet else None
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    causes: list[str] = []
    worries: list[str] = []
    for address in cluster.addresses:
        route = server.route_for(address, vnet, deadline) if vnet else None
        if route is None:
            covering = server.covering_routes(address, deadline)
            if vnet is None and covering:
                route = covering[0]
            elif covering:
                other = covering[0]
                where = other.get("virtual_network_name") or other.get("virtual_network_id")
                rows.append({"address": address, **_route_data(other), "inDeviceVnet": False})
                problems.append(
                    f"{address} is routed only in virtual network {where!r} ({other.get('network')}"
                    f" → tunnel {other.get('tunnel_name')}), not in {vnet_label or vnet!r}, "
                    f"which {origin} uses"
                )
                causes.append(
                    f"the route for {address} is in virtual network {where!r}, but {origin} "
                    f"uses {vnet_label or vnet!r}"
                )
                continue
        if route is None:
            rows.append({"address": address, "route": None})
            scope = f" in virtual network {vnet_label or vnet!r}" if vnet else ""
            problems.append(f"no private network route covers {address}{scope}")
            causes.append(f"no private network route covers {address}")
            continue
        rows.append({"address": address, **_route_data(route), "inDeviceVnet": bool(vnet)})
        worry = _name_worry(cluster, route, everyone)
        if worry:
            worries.append(worry)
    data: dict[str, Any] = {
        "routes": rows,
        "virtualNetwork": vnet,
        "virtualNetworkName": vnet_label,
    }
    if problems:
        return failed(
            "; ".join(problems),
            "add a route for the address in the right virtual network to the cluster's "
            "tunnel (`cloudflared tunnel route ip add --vnet VNET ADDRESS/32 TUNNEL`, or in "
            "Terraform) — " + PLATFORM,
            {**data, "cause": "; ".join(causes)},
        )
    summary = "; ".join(
        f"{r['address']} → {r['network']} → tunnel {r['tunnelName']}"
        + (f" (vnet {r['virtualNetworkName']})" if r.get("virtualNetworkName") else "")
        for r in rows
    )
    if worries:
        return warned(summary + "; " + "; ".join(worries), "worth a look: " + PLATFORM, data)
    return passed(summary, data)


def _route_data(route: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "route": route.get("id"),
        "network": route.get("network"),
        "tunnelId": route.get("tunnel_id"),
        "tunnelName": route.get("tunnel_name"),
        "virtualNetwork": route.get("virtual_network_id"),
        "virtualNetworkName": route.get("virtual_network_name"),
        "comment": route.get("comment"),
    }


def _name_worry(cluster: Cluster, route: Mapping[str, Any], everyone: Sequence[Cluster]) -> str:
    """A route whose tunnel's name mentions neither this cluster nor a cluster with the same
    API server is worth a look (a copy-paste in Terraform sends traffic to the wrong cluster)."""
    name = str(route.get("tunnel_name") or "").lower()
    if not name:
        return ""
    same = [c.name for c in everyone if c.server == cluster.server] or [cluster.name]
    if any(n.lower() in name for n in same):
        return ""
    return f"the tunnel's name {name!r} does not mention {cluster.name!r}"


# -- cf.tunnel -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Connector:
    id: str
    version: str
    arch: str
    run_at: str | None
    edge_connections: int
    colos: tuple[str, ...]
    origin_ips: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "arch": self.arch,
            "runAt": self.run_at,
            "edgeConnections": self.edge_connections,
            "colos": list(self.colos),
            "originIps": list(self.origin_ips),
        }


def connectors(clients: Sequence[Any]) -> list[Connector]:
    out = []
    for item in clients:
        if not isinstance(item, dict):
            continue
        conns = [c for c in item.get("conns") or [] if isinstance(c, dict)]
        out.append(
            Connector(
                id=str(item.get("id") or ""),
                version=str(item.get("version") or ""),
                arch=str(item.get("arch") or ""),
                run_at=str(item["run_at"]) if item.get("run_at") else None,
                edge_connections=len(conns),
                colos=tuple(sorted({str(c.get("colo_name")) for c in conns if c.get("colo_name")})),
                origin_ips=tuple(
                    sorted({str(c.get("origin_ip")) for c in conns if c.get("origin_ip")})
                ),
            )
        )
    return out


def describe_connectors(items: Sequence[Connector]) -> str:
    """``3 connectors (2025.11.1), 12 edge connections, AMS FRA LHR``."""
    if not items:
        return "0 connectors"
    versions = sorted({c.version for c in items if c.version})
    edges = sum(c.edge_connections for c in items)
    colos = sorted({colo for c in items for colo in c.colos})
    word = "connector" if len(items) == 1 else "connectors"
    text = f"{len(items)} {word}"
    if versions:
        text += f" ({', '.join(versions)})"
    text += f", {edges} edge connection{'' if edges == 1 else 's'}"
    if colos:
        text += ", " + " ".join(colos)
    return text


def check_tunnel(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    vnet, _origin = server.profile_vnet(deadline)
    seen: dict[str, str] = {}  # tunnel id -> an address it serves
    for address in cluster.addresses:
        route = server.route_for(address, vnet, deadline) if vnet else None
        if route is None:
            covering = server.covering_routes(address, deadline)
            route = covering[0] if covering else None
        if route is not None and route.get("tunnel_id"):
            seen.setdefault(str(route["tunnel_id"]), address)
    if not seen:
        return skipped("no route, so no tunnel to check (see cf.route)")
    rows: list[dict[str, Any]] = []
    worst = "pass"
    summaries: list[str] = []
    causes: list[str] = []
    for tunnel_id, address in seen.items():
        try:
            tunnel, clients = server.tunnel(tunnel_id, deadline)
        except ApiError as exc:
            if exc.kind is not ApiErrorKind.NOT_FOUND:
                raise
            rows.append({"id": tunnel_id, "status": "deleted"})
            worst = "fail"
            summaries.append(
                f"the route for {address} points at tunnel {tunnel_id}, which does not exist"
            )
            causes.append(f"the route for {address} points at a tunnel that no longer exists")
            continue
        items = connectors(clients)
        name = str(tunnel.get("name") or tunnel_id)
        status = str(tunnel.get("status") or "unknown")
        row = {
            "id": tunnel_id,
            "name": name,
            "status": status,
            "connsActiveAt": tunnel.get("conns_active_at"),
            "connsInactiveAt": tunnel.get("conns_inactive_at"),
            "connectors": [c.to_dict() for c in items],
        }
        rows.append(row)
        text = f"tunnel {name} {status}: {describe_connectors(items)}"
        if status in ("down", "inactive") or not items:
            since = tunnel.get("conns_inactive_at")
            when = f" since {when_text(str(since))}" if since else ""
            worst = "fail"
            summaries.append(f"tunnel {name} is {status}{when}: {describe_connectors(items)}")
            causes.append(
                f"the route for {address} sends it to tunnel {name}, which has 0 connectors"
                f"{when}: the cluster's cloudflared deployment is down"
            )
        elif status != "healthy" or len(items) < MIN_CONNECTORS:
            worst = "fail"
            need = f" (at least {MIN_CONNECTORS} needed)" if len(items) < MIN_CONNECTORS else ""
            summaries.append(f"{text}{need}")
            causes.append(
                f"the route for {address} sends it to tunnel {name}, which is {status} with "
                f"{len(items)} connector{'s' if len(items) != 1 else ''} up{need}"
            )
        else:
            summaries.append(text)
        weak = [c for c in items if c.edge_connections < 4]
        if weak and worst == "pass":
            worst = "warn"
            summaries[-1] += f"; {len(weak)} connector(s) with fewer than 4 edge connections"
    data: dict[str, Any] = {"tunnels": rows}
    summary = "; ".join(summaries)
    if worst == "fail":
        return failed(
            summary,
            "the cluster's cloudflared replicas are not (all) connected: check the cloudflared "
            "deployment in the cluster (pods, logs; egress to the edge on port 7844) — " + PLATFORM,
            {**data, "cause": "; ".join(causes)},
        )
    if worst == "warn":
        return warned(summary, "check the cloudflared replicas' logs — " + PLATFORM, data)
    return passed(summary, data)


# -- cf.split-tunnel -------------------------------------------------------------------------


def check_split_tunnel(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    profile, origin = server.profile(deadline)
    if profile is None:
        return skipped("the API returned no device profile")
    include = [e for e in profile.get("include") or [] if isinstance(e, dict)]
    exclude = [e for e in profile.get("exclude") or [] if isinstance(e, dict)]
    mode = "include" if include else "exclude"
    name = profile.get("name") or ("default" if profile.get("default", True) else "?")
    not_sent: list[dict[str, Any]] = []
    for address in cluster.addresses:
        ip = ipaddress.ip_address(address)
        if mode == "include":
            hit = _covering(include, ip)
            if hit is None:
                not_sent.append({"address": address, "reason": "not in the Include list"})
        else:
            hit = _covering(exclude, ip)
            if hit is not None:
                not_sent.append({"address": address, "reason": f"excluded by {hit}", "entry": hit})
    data = {"profile": name, "mode": mode, "notSent": not_sent}
    if not_sent:
        listed = ", ".join(f"{r['address']} ({r['reason']})" for r in not_sent)
        action = (
            "add ADDRESS/32 to its Include list"
            if mode == "include"
            else "take the address out of its Exclude list (replace the wide range with "
            "ranges that leave it out)"
        )
        return failed(
            f"{origin} {name!r} sends {listed} outside WARP",
            f"a Zero Trust admin must change the split tunnel of profile {name!r}: {action} — "
            + PLATFORM,
            {
                **data,
                "cause": f"the split tunnel of device profile {name!r} sends {listed} outside WARP",
            },
        )
    return passed(
        f"{origin} {name!r} ({mode} mode) sends {', '.join(cluster.addresses)} into WARP", data
    )


def _covering(entries: Sequence[Mapping[str, Any]], ip: Any) -> str | None:
    for entry in entries:
        address = entry.get("address")
        if not address:
            continue  # a host entry: needs DNS, cannot be judged for a raw IP
        try:
            network = ipaddress.ip_network(str(address), strict=False)
        except ValueError:
            continue
        if network.version == ip.version and ip in network:
            return str(address)
    return None


# -- cf.inspection -------------------------------------------------------------------------


def check_inspection(
    server: ServerSide, deadline: float, cluster: Cluster, _everyone: Sequence[Cluster]
) -> Outcome:
    settings, rules = server.gateway(deadline)
    decrypt = bool((settings.get("tls_decrypt") or {}).get("enabled"))
    mode = str((settings.get("inspection") or {}).get("mode") or "static")
    port = cluster.port
    data: dict[str, Any] = {"tlsDecrypt": decrypt, "inspectionMode": mode, "port": port}
    if not decrypt:
        return passed("Gateway's TLS decryption is off", data)
    if mode == "static" and port != 443:
        return passed(
            f"TLS decryption is on in static mode, which inspects port 443 only (the API "
            f"server uses {port})",
            data,
        )
    lint = lint_http_rules(rules, cluster.addresses, port)
    data["lint"] = lint.to_dict()
    why = "dynamic mode inspects every port" if mode == "dynamic" else "static mode inspects 443"
    if lint.do_not_inspect is not None and not lint.unknown:
        return passed(
            f"TLS decryption is on ({why}), but Do Not Inspect rule {lint.do_not_inspect!r} "
            "comes first for " + ", ".join(cluster.addresses) + " (policy lint)",
            {**data, "doNotInspectRule": lint.do_not_inspect},
        )
    addresses = ", ".join(f"{a}/32" for a in cluster.addresses)
    fix = (
        f"a Zero Trust admin must add an HTTP policy `Destination IP in {addresses}` → Do Not "
        "Inspect, above every inspect rule (client certificates and the cluster's CA do not "
        "survive inspection) — " + PLATFORM
    )
    if lint.unknown:
        names = ", ".join(repr(n) for n in lint.unknown)
        return warned(
            f"TLS decryption is on ({why}); policy lint cannot evaluate rule(s) {names}, which "
            "come before any Do Not Inspect rule for the API server: if they do not match it, "
            "its TLS is intercepted",
            fix,
            data,
        )
    if lint.inspect is not None:
        text = f"inspect rule {lint.inspect!r} matches the API server first"
    else:
        text = "no Do Not Inspect rule covers " + ", ".join(cluster.addresses)
    return failed(
        f"Gateway will decrypt the API server's TLS ({why}; {text}; policy lint)",
        fix,
        {
            **data,
            "cause": f"Gateway decrypts TLS to {', '.join(cluster.addresses)} ({why}) and no Do "
            "Not Inspect rule covers it",
        },
    )


@dataclass(frozen=True)
class Lint:
    do_not_inspect: str | None = None  # the first matching DNI rule
    inspect: str | None = None  # an inspect rule that matches first
    unknown: tuple[str, ...] = ()  # rules before the conclusion that cannot be evaluated

    def to_dict(self) -> dict[str, Any]:
        return {
            "doNotInspect": self.do_not_inspect,
            "inspect": self.inspect,
            "cannotEvaluate": list(self.unknown),
        }


def lint_http_rules(
    rules: Sequence[Mapping[str, Any]], addresses: Sequence[str], port: int
) -> Lint:
    """Walk enabled ``http`` rules in precedence order; the first ``off`` (Do Not Inspect)
    or ``on`` (inspect) rule that matches every address decides. A rule whose expression this
    lint cannot evaluate is remembered and named."""
    http_rules = [
        r
        for r in rules
        if r.get("enabled", True) is not False
        and "http" in (r.get("filters") or [])
        and r.get("action") in ("off", "on")
    ]
    http_rules.sort(key=lambda r: (_int(r.get("precedence")), str(r.get("name") or "")))
    unknown: list[str] = []
    for rule in http_rules:
        name = str(rule.get("name") or rule.get("id") or "?")
        verdicts = [_matches(str(rule.get("traffic") or ""), a, port) for a in addresses]
        if None in verdicts:
            unknown.append(name)
            continue
        if all(verdicts):
            if rule.get("action") == "off":
                return Lint(do_not_inspect=name, unknown=tuple(unknown))
            return Lint(inspect=name, unknown=tuple(unknown))
    return Lint(unknown=tuple(unknown))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 1 << 30


_IP_FIELDS = ("http.conn.dst_ip", "net.dst.ip")
_PORT_FIELDS = ("http.conn.dst_port", "net.dst.port")
_TERM = re.compile(
    r"^\s*(?P<field>[a-z_.]+)\s*(?P<op>==|!=|\bin\b)\s*(?P<value>\{[^}]*\}|\"[^\"]*\"|\S+)\s*$"
)


def _matches(expression: str, address: str, port: int) -> bool | None:
    """Whether a Gateway traffic expression matches a connection to ``address:port``; None
    when it uses anything beyond ``and``/``or`` of destination IP and port terms."""
    text = expression.strip()
    if not text:
        return True  # no traffic condition: the rule applies to everything
    if "(" in text or ")" in text or " not " in f" {text} ":
        return None
    alternatives = re.split(r"\s+or\s+", text)
    results = []
    for alternative in alternatives:
        terms = re.split(r"\s+and\s+", alternative)
        verdicts = [_term(t, address, port) for t in terms]
        if None in verdicts:
            return None
        results.append(all(verdicts))
    return any(results)


def _term(term: str, address: str, port: int) -> bool | None:
    found = _TERM.match(term)
    if found is None:
        return None
    name, op, raw = found["field"], found["op"], found["value"]
    values = raw.strip("{}").replace(",", " ").split() if raw.startswith("{") else [raw]
    values = [v.strip('"') for v in values]
    if name in _IP_FIELDS:
        ip = ipaddress.ip_address(address)
        hits = []
        for value in values:
            try:
                network = ipaddress.ip_network(value, strict=False)
            except ValueError:
                return None  # e.g. a $list reference
            hits.append(network.version == ip.version and ip in network)
        hit = any(hits)
    elif name in _PORT_FIELDS:
        try:
            hit = any(int(v) == port for v in values)
        except ValueError:
            return None
    else:
        return None
    if op == "==" and raw.startswith("{"):
        return None
    return (not hit) if op == "!=" else hit


# -- helpers -------------------------------------------------------------------------------


def when_text(stamp: str) -> str:
    """``14:02 UTC`` today, else ``2026-03-01 14:02 UTC``; the raw text when unparsable."""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        return stamp
    now = dt.datetime.now(dt.timezone.utc)
    if moment.date() == now.date():
        return moment.strftime("%H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")
