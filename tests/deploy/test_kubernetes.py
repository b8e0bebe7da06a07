"""The Kubernetes manifests (deploy/k8s): they render, validate against the schemas, harden every pod, keep no
secret, and their network policies allow exactly the call matrix of DESIGN.md in both directions, plus DNS."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from musicstore.common.calls import allowed
from tests.deploy.manifests import DNS, K8S, allowed_edges, egress_outside, ports_named, render, workloads

TARGETS = {
    "base": {"always"},
    "overlays/local": {"always"},
    "overlays/scaled": {"always", "postgres-carts"},
    "with-components": {"always", "prometheus", "otel-collector"},
}
KUBERNETES_VERSION = "1.32"


@pytest.fixture(scope="module", params=sorted(TARGETS))
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, list[dict[str, Any]]]:
    """Each kustomize target, rendered once."""
    target: str = request.param
    return target, render(target, tmp_path_factory.mktemp("k8s"))


def test_every_rendered_manifest_validates_against_the_kubernetes_schemas(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    _target, docs = rendered
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_policies_allow_exactly_the_call_matrix_on_both_sides(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    target, docs = rendered
    matrix = allowed(frozenset(TARGETS[target]))
    from_inside = {edge for edge in matrix if edge[0] not in {"ingress", "prometheus"}}
    assert allowed_edges(docs, "egress") == from_inside
    assert allowed_edges(docs, "ingress") == matrix


def test_every_port_in_the_policies_is_a_tcp_port_of_the_matrix_or_dns(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _target, docs = rendered
    matrix_ports = {port for _, _, port in allowed(frozenset(TARGETS["with-components"] | TARGETS["overlays/scaled"]))}
    assert ports_named(docs) <= matrix_ports | {53}
    for policy in (d for d in docs if d["kind"] == "NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction) or []:
                for item in rule.get("ports") or []:
                    assert item.get("protocol", "TCP") == "TCP" or item["port"] == 53, (
                        policy["metadata"]["name"],
                        item,
                    )


def test_nothing_leaves_the_namespace_but_dns(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _target, docs = rendered
    outside = egress_outside(docs)
    assert outside, "no DNS rule"
    for policy, peer, ports in outside:
        assert peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": DNS["namespace"]}
        assert peer.get("podSelector", {}).get("matchLabels") == DNS["labels"], policy
        assert sorted((p["protocol"], p["port"]) for p in ports) == [("TCP", 53), ("UDP", 53)], policy


def test_the_namespace_denies_every_ingress_and_egress_by_default(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _target, docs = rendered
    deny = [d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "default-deny"]
    assert deny and deny[0]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert all(d["metadata"].get("namespace") == "musicstore" for d in docs if d["kind"] != "Namespace")


def test_every_pod_runs_non_root_on_a_read_only_root_with_limits_and_no_token(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _target, docs = rendered
    for workload in workloads(docs):
        name, pod = workload["metadata"]["name"], workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        writable = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v or "persistentVolumeClaim" in v}
        writable |= {claim["metadata"]["name"] for claim in workload["spec"].get("volumeClaimTemplates", [])}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, (name, container["name"])
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, (name, container["name"], kind)
            mounts = {m["name"] for m in container.get("volumeMounts", []) if not m.get("readOnly")}
            assert mounts <= writable, (name, mounts - writable)


def test_every_serving_pod_has_liveness_and_readiness_probes(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _target, docs = rendered
    serving = [w for w in workloads(docs) if w["kind"] != "Job" and w["metadata"]["name"] != "traffic-worker"]
    assert {w["metadata"]["name"] for w in serving} >= {"store", "orders", "cart", "traffic", "postgres"}
    for workload in serving:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            assert "livenessProbe" in container and "readinessProbe" in container, workload["metadata"]["name"]
    http = {w["metadata"]["name"]: w for w in serving if w["metadata"]["name"] in ("store", "orders", "cart")}
    for name, workload in http.items():
        container = workload["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name


def test_images_are_named_with_versions(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _target, docs = rendered
    for workload in workloads(docs):
        for container in workload["spec"]["template"]["spec"]["containers"]:
            image = container["image"]
            assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def test_no_password_is_in_a_tracked_file_and_the_secrets_come_from_an_untracked_env() -> None:
    tracked = subprocess.run(["git", "ls-files", str(K8S)], capture_output=True, text=True, cwd=K8S, check=True)
    files = tracked.stdout.split()
    assert not [f for f in files if Path(f).name == ".env"]
    example = (K8S / "base" / ".env.example").read_text()
    values = [line.split("=", 1)[1] for line in example.splitlines() if "=" in line and not line.startswith("#")]
    assert values and all(value.startswith("change-me-") for value in values)
    ignored = subprocess.run(["git", "check-ignore", "-q", str(K8S / "base" / ".env")], cwd=K8S, check=False)
    assert ignored.returncode == 0, "deploy/k8s/base/.env must be git-ignored"
