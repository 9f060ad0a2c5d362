"""Open prompts in the read model, so pages read a person's prompts from the record, not from workflows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("programs", sa.Column("prompts_recorded", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table(
        "open_prompts",
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("participant", sa.String(length=320), nullable=False),
        sa.Column("prompt_id", sa.String(length=100), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("pairing_id", sa.String(length=255), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("shown_event_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "participant", "prompt_id"),
    )
    op.create_index("ix_open_prompts_person", "open_prompts", ["program_id", "participant"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_open_prompts_person", table_name="open_prompts")
    op.drop_table("open_prompts")
    op.drop_column("programs", "prompts_recorded")
