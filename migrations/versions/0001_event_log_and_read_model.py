"""The event log and the read model projected from it.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 00:39:27.495148
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")  # as in adapters/store/tables.py


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("pairing_id", sa.String(length=255), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_program_id"), ["program_id"], unique=False)

    op.create_table(
        "checkin_cycles",
        sa.Column("pairing_id", sa.String(length=255), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("missed_streak", sa.Integer(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pairing_id", "cycle"),
    )
    with op.batch_alter_table("checkin_cycles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_cycles_program_id"), ["program_id"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("pairing_id", sa.String(length=255), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("participant", sa.String(length=320), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("recap_written", sa.Boolean(), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pairing_id", "cycle", "participant"),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkins_program_id"), ["program_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=255), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("pairing_id", sa.String(length=255), nullable=True),
        sa.Column("participant", sa.String(length=320), nullable=True),
        sa.Column("fact", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workflow_id", "seq", name="uq_events_workflow_seq"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_program_id"), ["program_id"], unique=False)

    op.create_table(
        "kpi_results",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("kpi", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("program_id", "kpi"),
    )
    op.create_table(
        "metric_snapshots",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invited", sa.Integer(), nullable=False),
        sa.Column("opted_in", sa.Integer(), nullable=False),
        sa.Column("trained", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("enrolment_rate", sa.Float(), nullable=True),
        sa.Column("training_completion", sa.Float(), nullable=True),
        sa.Column("match_rate", sa.Float(), nullable=True),
        sa.Column("checkin_adherence", sa.Float(), nullable=True),
        sa.Column("average_progress", sa.Float(), nullable=True),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("pairings_running", sa.Integer(), nullable=False),
        sa.Column("pairings_at_risk", sa.Integer(), nullable=False),
        sa.Column("metrics", JSON, nullable=False),
        sa.Column("kpis", JSON, nullable=False),
        sa.PrimaryKeyConstraint("program_id", "label"),
    )
    op.create_table(
        "pairings",
        sa.Column("pairing_id", sa.String(length=255), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("mentor", sa.String(length=320), nullable=False),
        sa.Column("mentee", sa.String(length=320), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("rematch", sa.Boolean(), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("plan_skills", JSON, nullable=True),
        sa.Column("plan_by_default", sa.Boolean(), nullable=True),
        sa.Column("cadence_seconds", sa.Integer(), nullable=True),
        sa.Column("cycles_run", sa.Integer(), nullable=False),
        sa.Column("cycles_met", sa.Integer(), nullable=False),
        sa.Column("at_risk", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("pairing_id"),
    )
    with op.batch_alter_table("pairings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pairings_program_id"), ["program_id"], unique=False)

    op.create_table(
        "participants",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("seniority", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("opted_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_in_phase", sa.String(length=30), nullable=True),
        sa.PrimaryKeyConstraint("program_id", "email"),
    )
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("matching_mode", sa.String(length=20), nullable=False),
        sa.Column("goals", JSON, nullable=False),
        sa.Column("checkin_cadence_seconds", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(length=30), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("program_id"),
    )
    op.create_table(
        "skill_ratings",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("skill", sa.String(length=200), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("participant", sa.String(length=320), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("before", sa.Integer(), nullable=False),
        sa.Column("after", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "skill"),
    )
    with op.batch_alter_table("skill_ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_skill_ratings_program_id"), ["program_id"], unique=False)

    op.create_table(
        "survey_answers",
        sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program_id", sa.String(length=255), nullable=False),
        sa.Column("pairing_id", sa.String(length=255), nullable=False),
        sa.Column("participant", sa.String(length=320), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("survey", sa.String(length=20), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("usefulness", sa.Integer(), nullable=True),
        sa.Column("safe_and_useful", sa.Integer(), nullable=True),
        sa.Column("would_recommend", sa.Boolean(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_survey_answers_program_id"), ["program_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("survey_answers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_answers_program_id"))

    op.drop_table("survey_answers")
    with op.batch_alter_table("skill_ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_skill_ratings_program_id"))

    op.drop_table("skill_ratings")
    op.drop_table("programs")
    op.drop_table("participants")
    with op.batch_alter_table("pairings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pairings_program_id"))

    op.drop_table("pairings")
    op.drop_table("metric_snapshots")
    op.drop_table("kpi_results")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_program_id"))

    op.drop_table("events")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_program_id"))

    op.drop_table("checkins")
    with op.batch_alter_table("checkin_cycles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_cycles_program_id"))

    op.drop_table("checkin_cycles")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_program_id"))

    op.drop_table("alerts")
