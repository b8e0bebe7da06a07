"""`musicstore up` works the stack out before it hands over to the supervisor: it must not import the services'
code or their web stack for that (seconds of every start-up, in a process that lives a moment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from musicstore.common.embedded_pg import free_port

# Run `up` in a process whose os.execve only reports what was imported by then (and the plan it would hand over).
PRELUDE = """
import json, os, sys
def report(path, args, env):
    plan = json.loads(env["MUSICSTORE_UP_PLAN"])
    print(json.dumps({"modules": sorted(sys.modules), "children": [c["name"] for c in plan["children"]]}))
    raise SystemExit(0)
os.execve = report
from musicstore import cli
cli.main(["up"])
"""


def test_working_out_the_stack_imports_no_service_code_and_no_web_framework(tmp_path: Path) -> None:
    ports = {name: str(free_port()) for name in ("STORE_PORT", "ORDER_PORT", "CART_PORT", "DB_PORT", "TRAFFIC_PORT")}
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DB_HOST"}}
    # An external database (never reached here): no embedded server to initialise, which takes seconds.
    env |= ports | {"DATA_DIR": str(tmp_path / "var"), "DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1:9/x"}
    done = subprocess.run([sys.executable, "-c", PRELUDE], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    modules = set(report["modules"])
    heavy = ("musicstore.store", "musicstore.orders", "musicstore.cart", "flask", "sqlalchemy", "prometheus_client")
    assert [name for name in heavy if name in modules] == []
    assert report["children"] == ["services", "traffic"]  # the services run from one process (musicstore.zygote)
