"""Images built with podman from a base made from Debian's packages, and the Compose stack run with podman-compose.

No image registry is needed: the base is `mmdebstrap` piped into `podman import`, PostgreSQL is Debian's package
on that base. Tagged images stay in podman's storage (outside the clone), so the next run builds from cache.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "localhost/musicstore-base:bookworm"
IMAGES = {
    "service": "localhost/musicstore:0.1.0",
    "traffic": "localhost/musicstore-traffic:0.1.0",
    "postgres": "localhost/musicstore-postgres:15",
}
CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt",)


def require_podman() -> None:
    """Skip, saying why, where the container tools cannot run."""
    missing = [tool for tool in ("podman", "podman-compose", "mmdebstrap") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: `make test` installs them as root (make containers)")
    if os.geteuid() != 0:
        pytest.skip("the container test runs as root (rootful podman with runc); as another user it is skipped")


def podman_env(tmp_path: Path) -> dict[str, str]:
    """podman's environment: runc, and container limits no higher than this machine allows."""
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]\n[engine]\nruntime = "runc"\n'
    )
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def run(
    command: list[str], env: dict[str, str], *, timeout: float, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command in the repository's root, failing with its output when it fails."""
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, cwd=ROOT
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(command[:6])} ... exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return done


def image_exists(name: str, env: dict[str, str]) -> bool:
    return run(["podman", "image", "exists", name], env, timeout=60, check=False).returncode == 0


def ensure_base(env: dict[str, str], tmp_path: Path) -> None:
    """The base image (python3 and venv from Debian's packages), made once."""
    if image_exists(BASE, env):
        return
    tarball = tmp_path / "base.tar"
    run(["mmdebstrap", "--variant=apt", "--include=python3,python3-venv,ca-certificates,passwd", "bookworm",
         str(tarball), "http://deb.debian.org/debian"], env, timeout=900)  # fmt: skip
    run(["podman", "import", "--change", 'CMD ["/bin/bash"]', str(tarball), BASE], env, timeout=300)
    tarball.unlink()


def ca_secret() -> list[str]:
    """This machine's CA bundle as the build secret pip trusts (a proxy's CA, where there is one)."""
    for bundle in (os.environ.get("PIP_CERT", ""), os.environ.get("SSL_CERT_FILE", ""), *CA_BUNDLES):
        if bundle and Path(bundle).is_file():
            return ["--secret", f"id=pip-ca,src={bundle}"]
    return []


def build_images(env: dict[str, str]) -> None:
    """The three images, from the base (layers cached between runs)."""
    base = ["--build-arg", f"BASE_IMAGE={BASE}", "--format", "docker"]
    for target in ("service", "traffic"):
        run(["podman", "build", *base, *ca_secret(), "-f", "deploy/docker/Dockerfile", "--target", target,
             "-t", IMAGES[target], "."], env, timeout=1800)  # fmt: skip
    run(["podman", "build", *base, "-f", "deploy/docker/postgres.Dockerfile", "-t", IMAGES["postgres"],
         "deploy/docker"], env, timeout=900)  # fmt: skip


# A service's call that could not reach its peer and took this long was not an HTTP timeout (HTTP_TIMEOUT is 3 s):
# it was the name lookup, which glibc gives up on a silent DNS server only after 5 s a try.
LOOKUP_STALL_MS = 5000
UNREACHABLE = re.compile(r"(\w+ (?:GET|POST|PUT|DELETE) \S+) -> unreachable in (\d+) ms")


def name_lookup_stalls(container: str, since: datetime, env: dict[str, str]) -> list[str]:
    """The calls a service logged since then that could not reach their peer because its name did not resolve.

    On this machine (podman 4.3 with netavark and aardvark-dns 1.4.0, under gVisor) a container that joins a
    network, as a one-off `compose run` does, can leave the containers already on it without DNS answers for tens
    of seconds: their new connections (cart to store, store to PostgreSQL) stall that long, and a scenario that
    runs then cannot hold. Seen from the cart's log: its calls to the store "unreachable" after 5 s or more.
    """
    logs = run(["podman", "logs", "--since", since.isoformat(), container], env, timeout=60, check=False)
    found = UNREACHABLE.findall(logs.stdout + logs.stderr)
    return [f"{call}: {ms} ms" for call, ms in found if int(ms) >= LOOKUP_STALL_MS]


# A row of Locust's request statistics for a call the traffic generator made to the store itself: its maximum (ms).
STORE_ROW = re.compile(
    r"^\s*(?:GET|POST)\s+(store: .*?)\s+\d+\s+\d+\([\d.]+%\)\s+\|\s+\d+\s+\d+\s+(\d+)\s", re.MULTILINE
)


def direct_store_stalls(traffic_output: str) -> list[str]:
    """The traffic generator's own calls to the store (not through the cart) that took LOOKUP_STALL_MS or longer.

    The store's pages answer in milliseconds whatever the scenario does to the order service: a call that took
    seconds waited on the one-off traffic container's name lookups (the DNS stall above), seen from that side. The
    cart's calls to the store then stall alike, often longer than the time left to log them before the check."""
    return [f"{name}: {ms} ms" for name, ms in STORE_ROW.findall(traffic_output) if int(ms) >= LOOKUP_STALL_MS]


class Stopwatch:
    """Seconds since it was made."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started
