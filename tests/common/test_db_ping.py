"""PostgreSQL connections are checked with a round trip only when they sat unused in the pool a while."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from musicstore.common import db
from musicstore.common.embedded_pg import EmbeddedPostgres
from tests.conftest import new_database
from tests.support.clock import FakeClock


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The clock the pool's idle times are read from."""
    fake = FakeClock()
    monkeypatch.setattr(db.time, "monotonic", fake)
    return fake


@pytest.fixture()
def engine(pg_server: EmbeddedPostgres, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """An engine as the services make it, on a database of its own, counting its pings."""
    made = db.make_engine(new_database(pg_server, "ping_after_idle"), pool_size=1, max_overflow=0)
    made.pings = 0  # type: ignore[attr-defined]
    do_ping = made.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        made.pings += 1  # type: ignore[attr-defined]
        return do_ping(dbapi_connection)

    monkeypatch.setattr(made.dialect, "do_ping", counted)
    yield made
    made.dispose()


def backend_pid(engine: Engine) -> int:
    """The server process of the connection the pool hands out now."""
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.commit()
        return pid


def test_a_connection_used_within_the_last_second_is_handed_out_without_a_ping(
    engine: Engine, clock: FakeClock
) -> None:
    first = backend_pid(engine)
    clock.now += db.PING_AFTER_IDLE / 2
    assert backend_pid(engine) == first
    assert engine.pings == 0  # type: ignore[attr-defined]


def test_a_connection_idle_longer_is_pinged_before_it_is_handed_out(engine: Engine, clock: FakeClock) -> None:
    first = backend_pid(engine)
    clock.now += db.PING_AFTER_IDLE + 0.1
    assert backend_pid(engine) == first
    assert engine.pings == 1  # type: ignore[attr-defined]


def test_a_connection_the_server_ended_while_it_idled_is_replaced_before_use(engine: Engine, clock: FakeClock) -> None:
    first = backend_pid(engine)
    operator = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with operator.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    clock.now += db.PING_AFTER_IDLE + 0.1
    assert backend_pid(engine) != first
