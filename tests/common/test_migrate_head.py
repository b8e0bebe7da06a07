"""Start-up skips Alembic when the schema is already the newest: the check must agree with Alembic itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text

from musicstore.common import migrate
from musicstore.common.embedded_pg import EmbeddedPostgres
from musicstore.common.migrate import _head, alembic_config, at_head, upgrade
from tests.conftest import new_database

SERVICES = Path(__file__).parents[2] / "src" / "musicstore"


@pytest.mark.parametrize("service", ["store", "cart", "orders"])
def test_the_newest_revision_read_from_the_files_is_the_one_alembic_finds(service: str) -> None:
    migrations = SERVICES / service / "migrations"
    script = ScriptDirectory.from_config(alembic_config(migrations, "sqlite://"))
    assert _head(migrations / "versions") == script.get_current_head()


def test_a_database_is_at_head_after_its_migrations_and_not_while_it_is_at_an_older_revision(tmp_path: Path) -> None:
    migrations, url = SERVICES / "cart" / "migrations", f"sqlite:///{tmp_path / 'cart.db'}"
    assert not at_head(migrations, url)  # no version table yet
    upgrade(migrations, url)
    assert at_head(migrations, url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    assert not at_head(migrations, url)
    engine.dispose()


def test_the_check_on_a_new_database_runs_no_statement_that_fails(
    pg_server: EmbeddedPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a failed statement is an ERROR line in PostgreSQL's log, which a first `make run` shows
    url = new_database(pg_server, "new_for_head_check")
    failed: list[str] = []
    monkeypatch.setattr(migrate, "create_engine", counting_failures(failed))
    assert not at_head(SERVICES / "store" / "migrations", url)
    assert failed == []


def counting_failures(failed: list[str]) -> Any:
    """create_engine, with every statement that fails on the engine it makes noted in `failed`."""

    def make(*args: Any, **kwargs: Any) -> Engine:
        engine = create_engine(*args, **kwargs)
        event.listen(engine, "handle_error", lambda context: failed.append(str(context.statement)))
        return engine

    return make
