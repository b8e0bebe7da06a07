"""The metric files of prometheus-client's multiprocess mode: where they go, and clearing them.

The standard library only: `musicstore up` prepares each service's directory before any service code (or
prometheus-client, which reads PROMETHEUS_MULTIPROC_DIR when first imported) is loaded.
"""

from __future__ import annotations

from pathlib import Path

MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own switch to multiprocess mode


def prepare_multiprocess_dir(path: Path) -> Path:
    """A directory for one start of a service's workers' metrics: made private if missing, old metric files gone
    (counts of an earlier start must not add to this one's; anything else in it is left alone)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    remove_metric_files(path)
    return path


def remove_metric_files(path: Path) -> None:
    """Remove the metric files of prometheus-client's multiprocess mode from a directory."""
    for found in path.glob("*.db"):
        found.unlink(missing_ok=True)
