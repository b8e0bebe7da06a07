"""Changing a service's database as an operator would: plain SQL in a connection of its own, committed."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import create_engine, text


def run_sql(app: Flask, statement: str) -> None:
    """Run one statement on the app's database outside the app (another writer), and commit it."""
    engine = create_engine(app.config["SETTINGS"].database_url())
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()
