"""Admin sessions kept in the service's own database: a log-out ends a session for every worker and replica.

The session cookie stays Flask's signed cookie; at log-in it gets a random session id, and the database keeps
that id's digest with the session's end (a fixed time after log-in). A request is the admin's only while its
id is in the table and the end has not come; log-out deletes the row, so a cookie saved before it is refused
by any process that reads the same database. The store's and the order service's migrations create the table
in their own databases.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from sqlalchemy import BigInteger, Column, Engine, Index, MetaData, String, Table, delete, insert, select

# The table as the queries below use it; each service with admin pages adds it to its own models' metadata
# (admin_sessions_in), so it is part of the schema those models describe and their migrations create.
admin_sessions = Table(
    "admin_sessions",
    MetaData(),
    Column("id", String(64), primary_key=True),  # SHA-256 of the id the cookie carries, never the id itself
    Column("created_at", BigInteger, nullable=False),  # Unix seconds
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_admin_sessions_expires_at", "expires_at"),
)


def admin_sessions_in(metadata: MetaData) -> Table:
    """The admin_sessions table, added to a service's metadata."""
    return admin_sessions.to_metadata(metadata)


def now() -> float:
    """The time sessions are judged by (Unix seconds); tests move it."""
    return time.time()


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_admin_session(engine: Engine, lifetime: int) -> tuple[str, int]:
    """Record a new session that ends `lifetime` seconds from now; return its id and its log-in time.

    Sessions that have ended are removed on the way, so the table holds only live ones.
    """
    session_id, started = secrets.token_urlsafe(32), int(now())
    with engine.begin() as conn:
        conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= started))
        conn.execute(
            insert(admin_sessions).values(id=_digest(session_id), created_at=started, expires_at=started + lifetime)
        )
    return session_id, started


def admin_session_is_live(engine: Engine, session_id: str) -> bool:
    """True while the session has neither been logged out nor reached its end."""
    with engine.connect() as conn:
        ends = conn.scalar(select(admin_sessions.c.expires_at).where(admin_sessions.c.id == _digest(session_id)))
    return ends is not None and now() < ends


def end_admin_session(engine: Engine, session_id: str) -> None:
    """Log the session out everywhere: its id no longer opens anything."""
    with engine.begin() as conn:
        conn.execute(delete(admin_sessions).where(admin_sessions.c.id == _digest(session_id)))
