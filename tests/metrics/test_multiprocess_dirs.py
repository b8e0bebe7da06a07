"""Each start of a service's gunicorn gets a fresh, private directory for its workers' metrics
(PROMETHEUS_MULTIPROC_DIR), and gunicorn's hooks keep it right as workers come and go."""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, values

from musicstore import gunicorn_config, local_config
from musicstore.common.metrics import Metrics


@pytest.fixture()
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The CLI's settings read again from the environment this test sets."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    local_config.settings.cache_clear()
    yield monkeypatch
    local_config.settings.cache_clear()


def private_and_empty(path: Path) -> bool:
    return path.is_dir() and stat.S_IMODE(path.stat().st_mode) == 0o700 and not any(path.iterdir())


def test_up_gives_each_service_its_own_directory_under_the_data_dir_emptied_at_start(
    fresh_settings: pytest.MonkeyPatch, data_dir: Path
) -> None:
    stale = data_dir / "metrics" / "cart" / "counter_4242.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier start")
    cart = local_config.metrics_env("cart", data_dir)
    orders = local_config.metrics_env("orders", data_dir)
    assert cart == {"PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics" / "cart")}
    assert orders == {"PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics" / "orders")}
    assert private_and_empty(data_dir / "metrics" / "cart") and private_and_empty(data_dir / "metrics" / "orders")


def test_serve_makes_a_new_private_directory_under_the_temporary_folder_at_each_start(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fresh_settings.setattr(tempfile, "tempdir", str(tmp_path))  # what TMPDIR would choose
    first = Path(local_config.metrics_env("store")["PROMETHEUS_MULTIPROC_DIR"])
    second = Path(local_config.metrics_env("store")["PROMETHEUS_MULTIPROC_DIR"])
    assert first != second
    assert first.parent == second.parent == tmp_path
    assert private_and_empty(first) and private_and_empty(second)


def test_serve_uses_the_directory_the_environment_names_emptied_of_old_metric_files(
    fresh_settings: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    chosen = tmp_path / "volume" / "metrics"
    chosen.mkdir(parents=True)
    (chosen / "histogram_77.db").write_bytes(b"stale")
    (chosen / "README").write_text("not ours: kept")
    fresh_settings.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    assert local_config.metrics_env("orders") == {"PROMETHEUS_MULTIPROC_DIR": str(chosen)}
    assert [p.name for p in chosen.iterdir()] == ["README"]


def test_every_service_runs_under_gunicorn_with_the_hooks_and_the_chosen_worker_count(
    fresh_settings: pytest.MonkeyPatch,
) -> None:
    fresh_settings.setenv("WEB_WORKERS", "3")
    options = local_config.gunicorn_options()
    assert options[options.index("--config") + 1] == "python:musicstore.gunicorn_config"
    assert options[options.index("--workers") + 1] == "3"


@pytest.fixture()
def multiprocess(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """prometheus-client in multiprocess mode in this process, writing under a directory of the test."""
    directory = tmp_path / "metrics"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4242))
    yield directory


def test_a_worker_that_exits_keeps_its_counts_and_loses_its_live_gauges(multiprocess: Path) -> None:
    registry = CollectorRegistry()
    Counter("served_total", "served", registry=registry).inc(3)
    Gauge("busy", "busy threads", registry=registry, multiprocess_mode="livesum").set(2)
    assert {p.name for p in multiprocess.iterdir()} == {"counter_4242.db", "gauge_livesum_4242.db"}
    gunicorn_config.child_exit(None, SimpleNamespace(pid=4242))
    assert {p.name for p in multiprocess.iterdir()} == {"counter_4242.db"}


def test_metrics_served_in_multiprocess_mode_add_up_every_workers_files(
    multiprocess: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for pid, served in ((1111, 2), (2222, 3)):  # two workers, each with its own app
        monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda pid=pid: pid))
        metrics = Metrics("store")
        metrics.requests.labels("GET", "/healthz", "200", "other", "false").inc(served)
    assert {"counter_1111.db", "counter_2222.db"} <= {p.name for p in multiprocess.iterdir()}
    line = 'http_requests_total{caller="other",endpoint="/healthz",method="GET",status="200",synthetic="false"} 5.0'
    assert line in metrics.exposition().splitlines()


def test_gunicorn_leaves_no_metric_files_behind_when_it_stops(multiprocess: Path) -> None:
    (multiprocess / "counter_1.db").write_bytes(b"x")
    gunicorn_config.on_exit(None)
    assert not multiprocess.exists()
