"""A service's database from a test: changed as an operator would (plain SQL in a connection of its own,
committed), and the statements the service runs, as they run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import Engine, create_engine, event, text


def run_sql(app: Flask, statement: str) -> None:
    """Run one statement on the app's database outside the app (another writer), and commit it."""
    engine = create_engine(app.config["SETTINGS"].database_url())
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


@contextmanager
def statements_run(engine: Engine) -> Iterator[list[str]]:
    """The first word of each statement the engine runs inside the block (INSERT, SELECT, WITH, ...), in order."""
    seen: list[str] = []

    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", _seen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", _seen)
