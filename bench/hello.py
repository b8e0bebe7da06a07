"""A minimal Flask hello-world: the ceiling `bench/http_bench.py` measures the services against.

Served by `bench/http_bench.py` as gunicorn serves anything: `gunicorn --workers 5 bench.hello:app`.
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def hello() -> str:
    """Hello, world."""
    return "Hello, World!"
