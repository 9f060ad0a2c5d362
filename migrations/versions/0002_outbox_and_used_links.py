"""The outbox of messages and the sign-in links already used.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")  # as in adapters/store/tables.py
STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("key", sa.String(length=600), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("pairing_id", sa.String(length=255), nullable=True),
        sa.Column("prompt_id", sa.String(length=100), nullable=True),
        sa.Column("notice", JSON, nullable=False),
        sa.Column("created_at", STAMP, nullable=False),
        sa.Column("next_attempt_at", STAMP, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", STAMP, nullable=True),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_program_id"), ["program_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False)
    op.create_table(
        "used_links",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("used_at", STAMP, nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )


def downgrade() -> None:
    op.drop_table("used_links")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_program_id"))
    op.drop_table("outbox")
