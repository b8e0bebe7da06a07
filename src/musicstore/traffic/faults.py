"""The fault switches in the traffic generator's web UI (port 5004): `GET /faults`, `PUT /faults/<flag>`, the
page `/fault-switches` and a "Faults" tab in Locust's own UI.

A switch is written to the flag file (musicstore.common.flags: whole, by renaming a temporary file over it),
which every service reads through OpenFeature within seconds. Where the flags come from a Kubernetes ConfigMap
(FLAGS_READ_ONLY) the tab shows them read-only and a change answers 409 saying how to make it. Everything here
sits behind the UI's guard (musicstore.traffic.webui.harden): open on loopback in local mode, the admin's
credentials elsewhere, writes from another site refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from locust.web import WebUI

from musicstore.common import flags
from musicstore.common.flags import FLAGS, FlagProblem
from musicstore.traffic.webui import on_locusts_page

log = logging.getLogger(__name__)

TAB = {"title": "Faults", "key": "faults"}
EXTENSION = "musicstore_faults"
REFRESH_SECONDS = 3  # how often the tab reads the flags again (someone else may switch them)
READ_ONLY_REASON = (
    "the flags come from a Kubernetes ConfigMap (FLAGS_READ_ONLY): change them with "
    "`kubectl -n musicstore edit configmap musicstore-flags` (the kubelet refreshes the file within about two minutes)"
)

blueprint = Blueprint(
    "faults", __name__, template_folder="templates", static_folder="static/faults", static_url_path="/faults/static"
)


@dataclass(frozen=True)
class FlagFile:
    """Where the flags are, and whether this UI may switch them."""

    path: Path
    read_only: bool = False


def _flag_file() -> FlagFile:
    found: FlagFile = current_app.extensions[EXTENSION]
    return found


@blueprint.get("/faults")
def current() -> Response:
    """Every flag's value now: {flag: value}."""
    response = jsonify(flags.read_values(_flag_file().path))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.put("/faults/<name>")
def switch(name: str) -> tuple[Response, int]:
    """Switch one flag: {"value": ...} → 200 with every flag's value; 400 for a bad flag or value; 409 read-only."""
    where = _flag_file()
    body = request.get_json(silent=True) if request.is_json else None
    try:
        flag = flags.flag_named(name)
        if not isinstance(body, dict) or set(body) != {"value"}:
            raise FlagProblem('send {"value": ...} as JSON (Content-Type: application/json)')
        value = flag.check(body["value"])
    except FlagProblem as exc:
        return jsonify({"error": str(exc)}), 400
    if where.read_only:
        return jsonify({"error": f"{name} cannot be switched here: {READ_ONLY_REASON}"}), 409
    values = flags.set_value(where.path, name, value)
    log.warning("fault switch: %s set to %s from the web UI (%s)", name, value, request.remote_addr)
    return jsonify(values), 200


@blueprint.get("/fault-switches")
def page() -> str:
    """A page of its own with the switches, for any time (Locust's tabs show only once a run has started)."""
    return render_template("faults/page.html", **_assets_args())


def _assets_args() -> dict[str, Any]:
    where = _flag_file()
    definitions = [
        {"name": f.name, "kind": f.kind, "description": f.description, "high": f.high, "variants": list(f.variants)}
        for f in FLAGS.values()
    ]
    return {
        "definitions": definitions,
        "read_only": where.read_only,
        "reason": READ_ONLY_REASON,
        "refresh": REFRESH_SECONDS,
        "path": str(where.path),
    }


def install(web_ui: WebUI, path: Path, *, read_only: bool) -> None:
    """Serve the switches on Locust's UI, add the tab, and have Locust's page load the tab's script."""
    app = web_ui.app
    assert app is not None
    if not read_only:
        try:
            if flags.ensure_file(path):
                log.info("fault switches: wrote %s with every flag off", path)
        except OSError as exc:
            log.error("fault switches: cannot write %s (%s); switching a flag will fail until it can", path, exc)
    app.extensions[EXTENSION] = FlagFile(path, read_only)
    app.register_blueprint(blueprint)
    tabs = web_ui.template_args.setdefault("extended_tabs", [])
    if TAB not in tabs:
        tabs.append(TAB)
    on_locusts_page(app, lambda: render_template("faults/_assets.html", **_assets_args()))
