"""The Kubernetes manifests as kustomize renders them, and what their network policies allow."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from musicstore.common.calls import EXTERNAL, PORTS

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
NAMESPACE = "musicstore"
# The namespaces the outside callers live in, as the policies name them.
EXTERNAL_NAMESPACES = {"ingress": "ingress-nginx", "prometheus": "monitoring"}
DNS = {"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}
WORKLOADS = ("Deployment", "StatefulSet", "Job")


# An overlay as a user would write one to switch the optional components on.
WITH_COMPONENTS = """apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: musicstore
resources:
  - ../overlays/local
components:
  - ../components/prometheus
  - ../components/otel-collector
"""


def render(target: str, tmp_path: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize` of an overlay (or the base), with the example .env standing in for the real one.

    The target `with-components` is the local overlay with every optional component on.
    """
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl (with kustomize) is not installed: the Kubernetes manifests cannot be rendered here")
    tree = tmp_path / "k8s"
    shutil.copytree(K8S, tree)
    shutil.copy(tree / "base" / ".env.example", tree / "base" / ".env")
    (tree / "with-components").mkdir()
    (tree / "with-components" / "kustomization.yaml").write_text(WITH_COMPONENTS)
    done = subprocess.run([kubectl, "kustomize", str(tree / target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every Deployment, StatefulSet and Job."""
    return (doc for doc in docs if doc["kind"] in WORKLOADS)


def pod_labels(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each component's pod labels."""
    labels = {}
    for doc in workloads(docs):
        pod = doc["spec"]["template"]["metadata"]["labels"]
        labels[pod["app.kubernetes.io/component"]] = pod
    return labels


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects these labels."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        value, operator = labels.get(expression["key"]), expression["operator"]
        if operator == "In" and value not in expression["values"]:
            return False
        if operator == "NotIn" and value in expression["values"]:
            return False
        if operator == "Exists" and value is None:
            return False
        if operator == "DoesNotExist" and value is not None:
            return False
    return True


@dataclass(frozen=True)
class Peer:
    """A component the policies are evaluated for: in the namespace (pod labels) or outside it (its namespace)."""

    name: str
    labels: dict[str, str] | None = None
    namespace: str = NAMESPACE

    def matched_by(self, peer: dict[str, Any]) -> bool:
        """Whether a NetworkPolicyPeer names this component."""
        assert "ipBlock" not in peer, f"an ipBlock peer reaches outside the cluster: {peer}"
        if "namespaceSelector" in peer:
            names = {"kubernetes.io/metadata.name": self.namespace}
            return selects(peer["namespaceSelector"], names) and (
                "podSelector" not in peer or self.labels is None or selects(peer["podSelector"], self.labels)
            )
        return self.namespace == NAMESPACE and self.labels is not None and selects(peer.get("podSelector"), self.labels)


def peers(docs: list[dict[str, Any]]) -> list[Peer]:
    """The shop's components and the outside callers."""
    inside = [Peer(name, labels) for name, labels in pod_labels(docs).items()]
    return inside + [Peer(name, None, EXTERNAL_NAMESPACES[name]) for name in sorted(EXTERNAL)]


def policy_types(spec: dict[str, Any]) -> list[str]:
    """The directions a policy governs (Kubernetes' default: Ingress, and Egress when it has egress rules)."""
    types: list[str] = spec.get("policyTypes") or ["Ingress", *(["Egress"] if "egress" in spec else [])]
    return types


def ports_named(docs: list[dict[str, Any]]) -> set[int]:
    """Every port any policy names (each a plain number: ranges and named ports are refused)."""
    found = set()
    for policy in (doc for doc in docs if doc["kind"] == "NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction) or []:
                for item in rule.get("ports") or []:
                    assert "endPort" not in item, f"a port range in {policy['metadata']['name']}"
                    assert isinstance(item.get("port"), int), f"a port that is not a number: {item}"
                    found.add(item["port"])
    return found


def _port_allowed(rule: dict[str, Any], port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    for item in ports:
        assert isinstance(item.get("port"), int), f"ports are numbers, so the matrix can be checked: {item}"
        if item["port"] == port and item.get("protocol", "TCP") == "TCP":
            return True
    return False


def allows(policies: list[dict[str, Any]], direction: str, subject: Peer, other: Peer, port: int) -> bool:
    """Whether some policy selecting `subject` lets traffic to (egress) or from (ingress) `other` on `port`."""
    kind, side = ("Egress", "to") if direction == "egress" else ("Ingress", "from")
    for policy in policies:
        spec = policy["spec"]
        if subject.labels is None or kind not in policy_types(spec):
            continue
        if not selects(spec["podSelector"], subject.labels):
            continue
        for rule in spec.get(direction) or []:
            assert rule.get(side), (
                f"a {direction} rule with no {side!r} allows everything: {policy['metadata']['name']}"
            )
            if _port_allowed(rule, port) and any(other.matched_by(p) for p in rule[side]):
                return True
    return False


def allowed_edges(docs: list[dict[str, Any]], direction: str) -> set[tuple[str, str, int]]:
    """(source, target, port) the policies allow on the egress side of the source or the ingress side of the target."""
    policies = [doc for doc in docs if doc["kind"] == "NetworkPolicy"]
    everyone = peers(docs)
    edges = set()
    for source in everyone:
        for target in everyone:
            for port in set(PORTS.values()) | ports_named(docs) | {53}:
                if (
                    direction == "egress"
                    and source.labels is not None
                    and allows(policies, "egress", source, target, port)
                ):
                    edges.add((source.name, target.name, port))
                if (
                    direction == "ingress"
                    and target.labels is not None
                    and allows(policies, "ingress", target, source, port)
                ):
                    edges.add((source.name, target.name, port))
    return edges


def egress_outside(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], list[Any]]]:
    """Every egress peer that names another namespace: (policy, peer, ports)."""
    found = []
    for policy in (doc for doc in docs if doc["kind"] == "NetworkPolicy"):
        for rule in policy["spec"].get("egress") or []:
            for peer in rule.get("to") or []:
                if "namespaceSelector" in peer or "ipBlock" in peer:
                    found.append((policy["metadata"]["name"], peer, rule.get("ports") or []))
    return found
