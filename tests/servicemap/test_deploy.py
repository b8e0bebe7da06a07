"""What the service map needs from a deployment: every pod of a service found by one name (in Kubernetes a
headless Service, in Compose the service's own name), and the traffic UI told to read every address of it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from musicstore.traffic.settings import parse_map_targets
from tests.deploy.manifests import render

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PORTS = {"store": 5000, "cart": 5002, "orders": 5001}


@pytest.mark.parametrize("target", ["base", "overlays/scaled"])
def test_in_kubernetes_each_service_has_a_headless_service_of_every_pod_which_the_traffic_ui_reads(
    target: str, tmp_path: Path
) -> None:
    docs = render(target, tmp_path)
    services = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Service"}
    deployments = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Deployment"}
    for name, port in PORTS.items():
        pods = services[f"{name}-pods"]
        assert pods["clusterIP"] == "None"  # headless: its name resolves to every pod's address
        assert pods["publishNotReadyAddresses"] is True  # a pod out of rotation is still on the map
        assert pods["selector"] == deployments[name]["selector"]["matchLabels"]
        assert [(p["port"], p["targetPort"]) for p in pods["ports"]] == [(port, "http")]
    master = deployments["traffic"]["template"]["spec"]["containers"][0]
    env = {item["name"]: item.get("value") for item in master.get("env", [])}
    assert parse_map_targets(env["TRAFFIC_MAP_TARGETS"]) == {
        name: f"http://{name}-pods:{port}" for name, port in PORTS.items()
    }
    assert env["TRAFFIC_MAP_EVERY_ADDRESS"] == "true"


def test_in_compose_the_traffic_ui_reads_every_replica_of_each_service_by_its_name() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    env = compose["services"]["traffic"]["environment"]
    assert env["TRAFFIC_MAP_EVERY_ADDRESS"] == "true"  # Compose's DNS gives every replica of a scaled service
    assert "TRAFFIC_MAP_TARGETS" not in env  # the service URLs (http://store:5000, ...) are the names to resolve
