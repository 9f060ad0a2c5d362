"""What pages read, in the read model: each member's view, each pair's record, the coordinator's status, the spec.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")  # as in adapters/store/tables.py


def upgrade() -> None:
    op.add_column("programs", sa.Column("spec", JSON, nullable=True))
    op.add_column("programs", sa.Column("members_recorded", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "member_views",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("view", JSON, nullable=False),
        sa.Column("shown_event_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("program_id", "email"),
    )
    op.create_table(
        "program_status",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("status", JSON, nullable=False),
        sa.Column("proposal", JSON, nullable=True),
        sa.Column("shown_event_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("program_id"),
    )
    op.create_table(
        "pair_records",
        sa.Column("pairing_id", sa.String(length=255), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("shown_event_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("pairing_id"),
    )


def downgrade() -> None:
    op.drop_table("pair_records")
    op.drop_table("program_status")
    op.drop_table("member_views")
    op.drop_column("programs", "members_recorded")
    op.drop_column("programs", "spec")
