"""Start-up skips Alembic when the schema is already the newest: the check must agree with Alembic itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from musicstore.common.migrate import _head, alembic_config, at_head, upgrade

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
