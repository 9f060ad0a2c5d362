"""Portal sessions the server can end: signing out, or signing in again, ends a session for good.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "portal_sessions",
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("started_at", STAMP, nullable=False),
        sa.Column("ended_at", STAMP, nullable=True),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_index("ix_portal_sessions_person", "portal_sessions", ["email", "program_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_person", table_name="portal_sessions")
    op.drop_table("portal_sessions")
