"""`musicstore up`'s long-lived process (musicstore.supervisor): children's lines prefixed, a failed start-up
reported with the child's own words, everything stopped."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from musicstore.common.embedded_pg import free_port
from musicstore.supervisor import (
    IDLE_SESSION_ENDED,
    OUTPUTS_VARIABLE,
    PLAN_VARIABLE,
    POSTGRES_EXPECTED,
    STARTING_UP,
    Supervisor,
    answers_200,
)
from tests.support.waiting import eventually


def run_plan(plan: dict[str, object], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m musicstore.supervisor` with a plan, as `musicstore up` hands it over."""
    env = {**os.environ, PLAN_VARIABLE: json.dumps(plan)}
    return subprocess.run(
        [sys.executable, "-m", "musicstore.supervisor"], env=env, capture_output=True, text=True, timeout=60
    )


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_child_that_fails_while_starting_stops_everything_and_is_named_with_its_own_words(tmp_path: Path) -> None:
    survivor = tmp_path / "survivor.pid"
    # A child that would run for ever: it must be stopped when its sibling fails.
    steady = python(
        f"import os, threading; open({str(survivor)!r}, 'w').write(str(os.getpid()))\n"
        "print('steady up', flush=True); threading.Event().wait()"
    )
    plan = {
        "postgres": None,
        "children": [
            {"name": "steady", "args": steady, "env": {}},
            {"name": "broken", "args": python("import sys; print('no database here'); sys.exit(3)"), "env": {}},
        ],
        "ready": [["steady", f"http://127.0.0.1:{free_port()}/healthz"]],
        "banner": ["never said"],
    }
    result = run_plan(plan, tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "broken  | no database here" in lines
    assert "up      | stopped because broken exited with code 3" in lines
    assert "never said" not in result.stdout
    left = [p for p in psutil.process_iter(["cmdline"]) if str(survivor) in " ".join(p.info["cmdline"] or [])]
    assert left == []


def test_the_banner_comes_once_every_child_answers_and_the_plan_is_not_passed_on(tmp_path: Path) -> None:
    port = free_port()
    server = python(
        "import http.server, os, sys\n"
        f"print('plan seen' if os.environ.get({PLAN_VARIABLE!r}) else 'no plan', os.environ['GREETING'], flush=True)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).handle_request()\n"
        "sys.exit(0)\n"
    )
    plan = {
        "postgres": None,
        "children": [{"name": "web", "args": server, "env": {"GREETING": "hello"}}],
        "ready": [["web", f"http://127.0.0.1:{port}/"]],
        "banner": ["Web http://localhost"],
    }
    result = run_plan(plan, tmp_path)
    assert "web     | no plan hello" in result.stdout.splitlines()
    assert "up      | Web http://localhost" in result.stdout.splitlines()
    # The server answered once and exited: the supervisor says so and stops with an error.
    assert "up      | stopped because web exited with code 0" in result.stdout.splitlines()


def test_a_child_marked_after_ready_starts_only_once_the_others_answer(tmp_path: Path) -> None:
    port = free_port()
    server = python(
        f"import http.server; http.server.HTTPServer(('127.0.0.1', {port}), "
        "http.server.SimpleHTTPRequestHandler).serve_forever()"
    )
    later = python(
        f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=1).close(); print('web was up')"
    )
    plan = {
        "postgres": None,
        "children": [
            {"name": "later", "args": later, "env": {}, "after_ready": True},
            {"name": "web", "args": server, "env": {}},
        ],
        "ready": [["web", f"http://127.0.0.1:{port}/"], ["later", f"http://127.0.0.1:{port}/"]],
        "banner": [],
    }
    result = run_plan(plan, tmp_path)
    assert "later   | web was up" in result.stdout.splitlines()
    assert "up      | stopped because later exited with code 0" in result.stdout.splitlines()


def test_a_child_that_runs_several_processes_gets_a_pipe_for_each_and_their_lines_come_under_their_names(
    tmp_path: Path,
) -> None:
    port = free_port()
    # What musicstore.zygote does: each process it runs writes to its own pipe, and one of them is the server that
    # the plan's readiness names (not the child itself).
    parent = python(
        "import http.server, json, os\n"
        f"fds = json.loads(os.environ[{OUTPUTS_VARIABLE!r}])\n"
        "os.write(fds['alpha'], b'alpha here\\n'); os.write(fds['beta'], b'beta here\\n')\n"
        "print('parent here', sorted(fds), flush=True)\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), http.server.SimpleHTTPRequestHandler).handle_request()\n"
    )
    plan = {
        "postgres": None,
        "children": [{"name": "both", "args": parent, "env": {}, "outputs": ["alpha", "beta"]}],
        "ready": [["beta", f"http://127.0.0.1:{port}/"]],
        "banner": ["all answered"],
    }
    result = run_plan(plan, tmp_path)
    lines = result.stdout.splitlines()
    assert {"alpha   | alpha here", "beta    | beta here", "both    | parent here ['alpha', 'beta']"} <= set(lines)
    assert "up      | all answered" in lines  # beta's readiness was checked, though no child is called beta
    assert "up      | stopped because both exited with code 0" in lines


@pytest.mark.parametrize(("status", "ready"), [(200, True), (503, False), (302, False)])
def test_a_readiness_url_is_ready_only_when_it_answers_200(status: int, ready: bool) -> None:
    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status if self.path == "/healthz" else 404)
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        assert answers_200(f"http://127.0.0.1:{server.server_port}/healthz") is ready
    finally:
        thread.join(5)
        server.server_close()


def test_a_readiness_url_where_nothing_listens_is_not_ready() -> None:
    assert answers_200(f"http://127.0.0.1:{free_port()}/healthz") is False


def test_a_childs_lines_come_whole_under_its_name_however_they_arrive(capsys: pytest.CaptureFixture[str]) -> None:
    read, write = os.pipe()
    supervisor = Supervisor()
    supervisor.pipe("store", os.fdopen(read, "rb"))
    os.write(write, b"first\nsecond\nthi")  # two lines and the start of a third at once
    os.write(write, b"rd\nno newline at the end")
    os.close(write)
    printed: list[str] = []

    def _all_printed() -> None:
        printed.extend(capsys.readouterr().out.splitlines())
        assert len(printed) == 4

    eventually(_all_printed, timeout=10)
    assert printed == [
        supervisor.prefix("store") + line for line in ("first", "second", "third", "no newline at the end")
    ]


def test_lines_a_child_is_told_to_hide_are_not_shown_and_its_others_are(capsys: pytest.CaptureFixture[str]) -> None:
    read, write = os.pipe()
    supervisor = Supervisor()
    supervisor.pipe("postgres", os.fdopen(read, "rb"), hide=POSTGRES_EXPECTED)
    os.write(
        write, f"FATAL:  {STARTING_UP}\nFATAL:  {IDLE_SESSION_ENDED}\nFATAL:  password authentication failed\n".encode()
    )
    os.close(write)
    printed: list[str] = []

    def _printed() -> None:
        printed.extend(capsys.readouterr().out.splitlines())
        assert printed

    eventually(_printed, timeout=10)
    assert printed == [supervisor.prefix("postgres") + "FATAL:  password authentication failed"]
