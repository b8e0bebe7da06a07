"""The shop's order index carries the artist: a search walks it without reading the table.

Pages are `ORDER BY title, id`; a broad search (say one album in five matches) walks the index on
(title, id) and tests each entry against the search text, on the title and the artist. With the artist in
the index as an included column, PostgreSQL tests entries in an index-only scan instead of fetching
every row it passes from the table, which is most of a broad search's time at 100,000 albums (#16).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Replace the index on (title, id) by one that also includes the artist."""
    op.create_index("ix_albums_title_id_artist", "albums", ["title", "id"], postgresql_include=["artist"])
    op.drop_index("ix_albums_title_id", table_name="albums")


def downgrade() -> None:
    """Back to the index on (title, id) alone."""
    op.create_index("ix_albums_title_id", "albums", ["title", "id"])
    op.drop_index("ix_albums_title_id_artist", table_name="albums")
