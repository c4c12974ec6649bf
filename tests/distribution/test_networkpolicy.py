"""The Kubernetes NetworkPolicy, checked statically: it selects the kros-mcp pods, lets in only the
ingress controller and only on the MCP port, lets out only DNS, PostgreSQL and HTTPS to public
addresses (KrosAI), and every manifest validates against Kubernetes' own schemas.
"""

from __future__ import annotations

import ipaddress
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

from kros_mcp.krosai.client import DEFAULT_BASE_URL

from ..test_manifests import load_k8s
from .tools import python_tools

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "manifests" / "k8s"
DOCS = load_k8s()
POLICY = next(d for d in DOCS if d["kind"] == "NetworkPolicy")
DEPLOYMENT = next(d for d in DOCS if d["kind"] == "Deployment")
SECRET = next(d for d in DOCS if d["kind"] == "Secret")
CONTAINER = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]
PRIVATE = [
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "127.0.0.0/8")
]


def ports(rule: dict[str, Any]) -> set[tuple[str, int | str]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}


def test_it_selects_the_kros_mcp_pods_and_denies_by_default() -> None:
    spec = POLICY["spec"]
    assert spec["podSelector"] == DEPLOYMENT["spec"]["selector"]
    labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert spec["podSelector"]["matchLabels"].items() <= labels.items()
    assert sorted(spec["policyTypes"]) == ["Egress", "Ingress"]
    for rule in [*spec["ingress"], *spec["egress"]]:
        assert rule.get("ports"), f"a rule without ports allows every port: {rule}"
        peers = rule.get("from", rule.get("to"))
        assert peers, f"a rule without peers allows everyone: {rule}"
        for peer in peers:
            assert peer, "an empty peer selects everything"


def test_ingress_only_from_the_ingress_controller_to_the_mcp_port() -> None:
    (rule,) = POLICY["spec"]["ingress"]
    (peer,) = rule["from"]
    # namespaceSelector and podSelector in one peer: pods matching both, not either.
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "ingress-nginx"}
    ((protocol, port),) = ports(rule)
    named = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    assert protocol == "TCP" and port in named, "the container's named MCP port"
    assert named[port] == 8000


def _egress(port: int) -> dict[str, Any]:
    (rule,) = [r for r in POLICY["spec"]["egress"] if any(p["port"] == port for p in r["ports"])]
    assert isinstance(rule, dict)
    return rule


def test_egress_is_dns_postgres_and_krosai_only() -> None:
    allowed = set().union(*(ports(r) for r in POLICY["spec"]["egress"]))
    krosai = urlsplit(DEFAULT_BASE_URL)
    assert krosai.scheme == "https" and krosai.port is None
    state_url = urlsplit(SECRET["stringData"]["KROS_MCP_STATE_URL"])
    assert allowed == {("UDP", 53), ("TCP", 53), ("TCP", state_url.port), ("TCP", 443)}


def test_dns_goes_to_the_cluster_resolver() -> None:
    (peer,) = _egress(53)["to"]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "kube-system"
    }
    assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_postgres_only_to_database_pods_or_private_addresses() -> None:
    for peer in _egress(5432)["to"]:
        if "ipBlock" in peer:
            network = ipaddress.IPv4Network(peer["ipBlock"]["cidr"])
            assert network.is_private and any(network.subnet_of(p) for p in PRIVATE), network
        else:
            assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "postgresql"}


def test_https_only_to_public_addresses() -> None:
    (peer,) = _egress(443)["to"]
    block = peer["ipBlock"]
    assert block["cidr"] == "0.0.0.0/0"
    excepted = [ipaddress.IPv4Network(n) for n in block["except"]]
    for private in PRIVATE:
        assert any(private.subnet_of(e) for e in excepted), f"{private} is reachable on 443"
    # The cloud metadata service is a classic SSRF target.
    assert any(ipaddress.ip_address("169.254.169.254") in e for e in excepted)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_manifests_validate_against_the_kubernetes_schemas(tmp_path: Path) -> None:
    validate = python_tools() / "kubernetes-validate"
    files = sorted(str(p) for p in K8S.glob("*.yaml"))
    done = subprocess.run(
        [str(validate), "--strict", "--kubernetes-version", "1.33.0", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" passed ") == len(files), done.stdout
    # It does reject a mistake: a misspelt field in the policy.
    broken = dict(POLICY, spec={**POLICY["spec"], "policyType": ["Ingress"]})
    broken.pop("__file__")
    (tmp_path / "broken.yaml").write_text(yaml.safe_dump(broken))
    done = subprocess.run(
        [str(validate), "--strict", str(tmp_path / "broken.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0, done.stdout
