"""A relative DATA_DIR (the default `var`) is resolved once, at start-up, against the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from musicstore.common.db import get_database
from musicstore.store import create_app
from tests.store.conftest import create_album, store_settings


def test_a_relative_data_dir_is_made_absolute_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_store_db: str
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = store_settings(clean_store_db, Path("var"), COVERS_DIR=None)
    assert tmp_path / "var" == settings.DATA_DIR
    assert settings.covers_dir == tmp_path / "var" / "covers"


def test_covers_are_served_from_where_they_were_written_with_a_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_store_db: str
) -> None:
    monkeypatch.chdir(tmp_path)  # as `musicstore serve store` runs: DATA_DIR=var, relative to where it started
    app = create_app(store_settings(clean_store_db, Path("var")), TESTING=True)
    try:
        create_album(app, title="Relative", cover=True)
        page = app.test_client().get("/api/albums?q=Relative").get_json()
        cover_url = page["items"][0]["cover_url"]
        answer = app.test_client().get(cover_url.replace("http://store.test", ""))
        answer.close()
        assert answer.status_code == 200 and answer.mimetype.startswith("image/")
    finally:
        get_database(app).dispose()
