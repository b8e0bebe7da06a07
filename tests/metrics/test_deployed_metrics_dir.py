"""In Compose and Kubernetes the root file system is read-only: each service's workers keep their metrics in a new
directory under /tmp (musicstore serve's default), so /tmp must be writable in every service container."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import render

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("store", "cart", "orders")


def test_compose_gives_each_service_a_writable_tmp_and_no_other_metrics_dir() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
    for name in SERVICES:
        service = compose["services"][name]
        assert service["read_only"] is True, name
        assert "/tmp" in service["tmpfs"], name
        assert "PROMETHEUS_MULTIPROC_DIR" not in service["environment"], name


@pytest.mark.parametrize("target", ["overlays/local", "overlays/scaled"])
def test_kubernetes_mounts_a_writable_volume_at_tmp_in_each_service(target: str, tmp_path: Path) -> None:
    docs = render(target, tmp_path)
    deployments: dict[str, Any] = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    for name in SERVICES:
        pod = deployments[name]["spec"]["template"]["spec"]
        scratch = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        (container,) = [c for c in pod["containers"] if c["name"] == name]
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts["/tmp"]["name"] in scratch and not mounts["/tmp"].get("readOnly"), name
        assert all(e["name"] != "PROMETHEUS_MULTIPROC_DIR" for e in container.get("env", [])), name
