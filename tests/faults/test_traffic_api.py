"""The traffic generator's fault switches over HTTP: GET /faults, PUT /faults/<flag>, with the UI's access rules."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from musicstore.common import flags
from musicstore.common.flags import ALL_OFF
from musicstore.traffic import faults
from musicstore.traffic.webui import harden

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:secret").decode()}


def ui(path: Path, *, read_only: bool = False, need_login: bool = False) -> FlaskClient:
    """A stand-in for Locust's web UI (its blueprint is `locust`), hardened, with the switches installed."""
    app = Flask("locust-ui")
    locust = Blueprint("locust", __name__)
    locust.add_url_rule("/", "index", lambda: "<html><body>locust</body></html>")
    app.register_blueprint(locust)
    web_ui = SimpleNamespace(app=app, template_args={})
    harden(app, user="admin", password="secret", need_login=need_login)
    faults.install(web_ui, path, read_only=read_only)  # type: ignore[arg-type]
    assert {"title": "Faults", "key": "faults"} in web_ui.template_args["extended_tabs"]
    return app.test_client()


def test_the_flags_are_read_as_flag_value_with_every_flag_off_at_first(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    client = ui(path)
    answer = client.get("/faults")
    assert answer.status_code == 200 and answer.get_json() == ALL_OFF
    assert flags.read_values(path) == ALL_OFF  # the UI wrote the file, so the services find it


def test_a_flag_switched_over_http_is_written_to_the_flag_file(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    client = ui(path)
    answer = client.put("/faults/paymentFailure", json={"value": 0.3})
    assert answer.status_code == 200 and answer.get_json() == {**ALL_OFF, "paymentFailure": 0.3}
    assert client.put("/faults/ordersUnavailable", json={"value": True}).status_code == 200
    assert flags.read_values(path) == {**ALL_OFF, "paymentFailure": 0.3, "ordersUnavailable": True}
    assert client.get("/faults").get_json() == flags.read_values(path)
    assert json.loads(path.read_text())["flags"]["ordersUnavailable"]["defaultVariant"] == "on"


@pytest.mark.parametrize(
    ("flag", "body", "says"),
    [
        ("nope", {"value": 1}, "no flag 'nope'; the flags are paymentFailure"),
        ("paymentFailure", {"value": 2}, "from 0 to 1"),
        ("paymentFailure", {"value": "0.5"}, "takes a number"),
        ("paymentLatencyMs", {"value": -1}, "out of range"),
        ("ordersUnavailable", {"value": "yes"}, "takes true or false"),
        ("cartNotReady", {"on": True}, 'send {"value": ...} as JSON'),
        ("cartNotReady", None, 'send {"value": ...} as JSON'),
    ],
)
def test_an_unknown_flag_or_a_wrong_value_is_a_400_saying_why_and_changes_nothing(
    tmp_path: Path, flag: str, body: object, says: str
) -> None:
    path = tmp_path / "flags.json"
    client = ui(path)
    before = path.read_text()
    answer = client.put(f"/faults/{flag}", json=body) if body is not None else client.put(f"/faults/{flag}", data="1")
    assert answer.status_code == 400 and says in answer.get_json()["error"]
    assert path.read_text() == before


def test_read_only_flags_are_shown_and_a_switch_is_a_409_saying_why(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flags.set_value(path, "storeApiLatencyMs", 200)  # what the ConfigMap holds
    client = ui(path, read_only=True)
    assert client.get("/faults").get_json() == {**ALL_OFF, "storeApiLatencyMs": 200}
    answer = client.put("/faults/storeApiLatencyMs", json={"value": 0})
    assert answer.status_code == 409 and "ConfigMap" in answer.get_json()["error"]
    assert flags.read_values(path)["storeApiLatencyMs"] == 200
    page = client.get("/fault-switches").get_data(as_text=True)
    assert 'data-read-only="true"' in page


def test_a_read_only_ui_writes_no_flag_file(tmp_path: Path) -> None:
    ui(tmp_path / "flags.json", read_only=True)
    assert not (tmp_path / "flags.json").exists()


def test_off_loopback_the_switches_take_the_admins_credentials(tmp_path: Path) -> None:
    client = ui(tmp_path / "flags.json", need_login=True)
    assert client.get("/faults").status_code == 401
    assert client.put("/faults/cartNotReady", json={"value": True}).status_code == 401
    assert client.put("/faults/cartNotReady", json={"value": True}, headers=ADMIN).status_code == 200


def test_a_switch_from_another_site_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    client = ui(path)
    answer = client.put("/faults/cartNotReady", json={"value": True}, headers={"Origin": "http://evil.example"})
    assert answer.status_code == 403 and flags.read_values(path)["cartNotReady"] is False
    cross = client.put("/faults/cartNotReady", json={"value": True}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403


def test_the_page_and_locusts_own_page_carry_the_switches_script(tmp_path: Path) -> None:
    client = ui(tmp_path / "flags.json")
    page = client.get("/fault-switches").get_data(as_text=True)
    assert 'id="faults"' in page and "faults.js" in page and "paymentFailure" in page
    assert "faults.js" in client.get("/").get_data(as_text=True)
    with client.get("/faults/static/faults.js") as script:
        assert script.status_code == 200
