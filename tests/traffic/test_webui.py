"""The web UI's guard: the admin's login off loopback, no cross-site use, no CORS, forms that cannot retarget."""

from __future__ import annotations

import base64
import json

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient

from musicstore.traffic.webui import RunForm, harden, loopback

ADMIN = {"Authorization": "Basic " + base64.b64encode(b"admin:secret").decode()}
WRONG = {"Authorization": "Basic " + base64.b64encode(b"admin:guess").decode()}


def ui(*, need_login: bool) -> FlaskClient:
    """A stand-in for Locust's UI app (its blueprint is named `locust`, it adds CORS headers), hardened."""
    app = Flask("locust-ui")
    bp = Blueprint("locust", __name__)
    stopped: list[str] = []

    @bp.route("/")
    def index() -> str:
        return "ui"

    @bp.route("/swarm", methods=["POST"])
    def swarm() -> str:
        return "swarming"

    @bp.route("/user", methods=["POST"])
    def user() -> str:
        return "updated"

    @bp.route("/stop", methods=["POST"])
    def stop() -> str:
        stopped.append("stop")
        return "stopped"

    app.register_blueprint(bp)
    app.after_request(lambda response: (response.headers.update({"Access-Control-Allow-Origin": "*"}), response)[1])
    app.debug = True
    harden(app, user="admin", password="secret", need_login=need_login,
           form=RunForm(frozenset({"HttpShopper", "Admin"}), "http://store.test:5000"))  # fmt: skip
    assert not app.debug
    return app.test_client()


LOOPBACK_OR_NOT = [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
                   ("0.0.0.0", False), ("", False), ("10.0.0.5", False)]  # fmt: skip


@pytest.mark.parametrize(("host", "expected"), LOOPBACK_OR_NOT)
def test_only_loopback_addresses_count_as_loopback(host: str, expected: bool) -> None:
    assert loopback(host) is expected


def test_on_loopback_in_local_mode_the_ui_is_open_and_sends_no_cors_headers() -> None:
    client = ui(need_login=False)
    answer = client.get("/", headers={"Origin": "http://evil.example"})
    assert answer.status_code == 200 and "Access-Control-Allow-Origin" not in answer.headers


def test_elsewhere_the_ui_and_its_api_take_the_admins_credentials() -> None:
    client = ui(need_login=True)
    assert client.get("/").status_code == 401
    assert client.get("/").headers["WWW-Authenticate"].startswith("Basic")
    assert client.get("/", headers=WRONG).status_code == 401
    assert client.get("/", headers=ADMIN).status_code == 200


def test_failed_log_ins_are_limited_per_address_with_retry_after() -> None:
    client = ui(need_login=True)
    answers = [client.get("/", headers=WRONG).status_code for _ in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429
    limited = client.get("/", headers=ADMIN)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "60"


def test_writes_from_another_site_and_cross_site_requests_are_refused() -> None:
    client = ui(need_login=False)
    assert client.post("/swarm", data={"user_count": "1"}, headers={"Origin": "http://evil.example"}).status_code == 403
    assert client.get("/stop", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    same_site = client.post("/swarm", data={"user_count": "1"}, headers={"Origin": "http://localhost"})
    assert same_site.status_code == 200


def test_get_stop_stops_a_run_as_design_names_it() -> None:
    client = ui(need_login=False)
    assert client.get("/stop").data == b"stopped"
    assert client.post("/stop").data == b"stopped"


@pytest.mark.parametrize("field", ["store_url", "summary", "cart_public_url", "weights", "journeys"])
def test_a_swarm_form_cannot_retarget_the_run_or_choose_a_file(field: str) -> None:
    answer = ui(need_login=False).post("/swarm", data={"user_count": "1", field: "http://elsewhere.test"})
    assert answer.status_code == 400 and f"{field} cannot be set from the web UI" in answer.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("max_browsers", "500"), ("think_min", "-1"), ("think_max", "x"), ("browser_journeys", "0"),
     ("user_count", "abc"), ("user_count", "-1"), ("spawn_rate", "0")],
)  # fmt: skip
def test_a_swarm_forms_settings_must_be_within_their_bounds(field: str, value: str) -> None:
    answer = ui(need_login=False).post("/swarm", data={"user_count": "1", field: value})
    assert answer.status_code == 400 and field in answer.text


def test_the_class_editor_may_change_weights_but_no_other_attribute() -> None:
    client = ui(need_login=False)
    weight = {"user_class_name": "HttpShopper", "weight": 5, "fixed_count": 0, "tasks": ["journey"]}
    assert client.post("/user", data=json.dumps(weight)).status_code == 200
    other = client.post("/user", data=json.dumps({"user_class_name": "HttpShopper", "wait_time": 5}))
    assert other.status_code == 400 and "wait_time cannot be set" in other.text


def test_a_swarm_names_only_user_types_that_exist() -> None:
    client = ui(need_login=False)
    assert client.post("/swarm", data={"user_count": "1", "user_classes": ["HttpShopper", "Admin"]}).status_code == 200
    answer = client.post("/swarm", data={"user_count": "1", "user_classes": ["HttpShopper", "NoSuchShopper"]})
    assert answer.status_code == 400 and "no user type 'NoSuchShopper'; choose from Admin, HttpShopper" in answer.text


def test_the_host_field_shows_the_store_and_cannot_aim_the_run_elsewhere() -> None:
    client = ui(need_login=False)
    assert client.post("/swarm", data={"user_count": "1", "host": "http://store.test:5000/"}).status_code == 200
    moved = client.post("/swarm", data={"user_count": "1", "host": "http://127.0.0.1:9"})
    assert moved.status_code == 400 and "the targets are set when the generator starts" in moved.text


@pytest.mark.parametrize(
    ("fields", "said"),
    [({"run_time": "xyz"}, "run_time 'xyz' is not a time span"), ({"run_time": "  "}, "run_time '  ' is not"),
     ({"think_min": "10", "think_max": "1"}, "think_min (10 s) must not be longer than think_max (1 s)")],
)  # fmt: skip
def test_a_swarm_form_whose_settings_cannot_work_is_refused_with_what_is_wrong(
    fields: dict[str, str], said: str
) -> None:
    answer = ui(need_login=False).post("/swarm", data={"user_count": "1", **fields})
    assert answer.status_code == 400 and said in answer.text


def test_a_readable_run_time_and_an_even_think_time_start_the_run() -> None:
    answer = ui(need_login=False).post("/swarm", data={"user_count": "1", "run_time": "1m30s", "think_min": "2",
                                                       "think_max": "2"})  # fmt: skip
    assert answer.status_code == 200
