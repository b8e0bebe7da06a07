"""The fault switches where the shop is deployed: in Compose a volume the traffic generator writes and the services
read; in Kubernetes a ConfigMap of the flags (every flag off) mounted into each service, read-only in the UI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from musicstore.common.flags import document_all_off
from tests.deploy.manifests import K8S, render, workloads

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yaml"
FLAGS_DIR = "/flags"


def test_the_kubernetes_flags_are_the_six_flags_all_off() -> None:
    assert json.loads((K8S / "base" / "flags.json").read_text()) == document_all_off()


def test_every_service_and_the_traffic_ui_mount_the_flags_configmap_read_only(tmp_path: Path) -> None:
    docs = render("overlays/local", tmp_path)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("musicstore-config"))
    assert config["data"]["FLAGS_FILE"] == f"{FLAGS_DIR}/flags.json" and config["data"]["FLAGS_READ_ONLY"] == "true"
    flags = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "musicstore-flags")
    assert json.loads(flags["data"]["flags.json"]) == document_all_off()  # a fixed name: `kubectl edit` reaches it
    mounted = {}
    for workload in workloads(docs):
        pod = workload["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            for mount in container.get("volumeMounts", []):
                if mount["mountPath"] == FLAGS_DIR:
                    assert volumes[mount["name"]]["configMap"]["name"] == "musicstore-flags"
                    assert mount.get("readOnly") is True and "subPath" not in mount  # a subPath is never refreshed
                    mounted[workload["metadata"]["name"]] = True
    assert {"store", "orders", "cart", "traffic"} <= set(mounted)


def test_in_compose_the_traffic_generator_writes_the_flags_volume_and_the_services_read_it() -> None:
    compose: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert "flags" in compose["volumes"]
    assert "flags:/flags" in services["traffic"]["volumes"]
    assert services["traffic"]["environment"]["FLAGS_FILE"] == "/flags/flags.json"
    for name in ("store", "orders", "cart"):
        assert "flags:/flags:ro" in services[name]["volumes"], name
        assert services[name]["environment"]["FLAGS_FILE"] == "/flags/flags.json", name
