"""A program's members in sealed pages, so its workflow input holds a reference instead of thousands of people.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "state_pages",
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "batch", "page"),
    )


def downgrade() -> None:
    op.drop_table("state_pages")
