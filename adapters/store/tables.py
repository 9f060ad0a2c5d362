"""The SQL schema: the event log and the read model projected from it.

`events` is the record: one row per domain event, unique on (workflow id, sequence number). Every other table
is a projection that `rebuild` can drop and fill again from the log. Nothing here holds what a pair wrote to
each other; survey comments appear only when the program's spec keeps them.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
Id = BigInteger().with_variant(Integer(), "sqlite")
Email = String(320)
WorkflowId = String(255)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("workflow_id", WorkflowId, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("pairing_id", WorkflowId),
    Column("participant", Email),
    Column("origin", String(64)),  # the first run id of the workflow that recorded it (None before 0003)
    Column("fact", Json, nullable=False),
    UniqueConstraint("workflow_id", "seq", name="uq_events_workflow_seq"),
    Index("ix_events_program_at", "program_id", "at"),  # a page's "as of": the program's newest event
)

programs = Table(
    "programs",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("matching_mode", String(20), nullable=False),
    Column("goals", Json, nullable=False),
    Column("checkin_cadence_seconds", Integer, nullable=False),
    Column("phase", String(30), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("outcome", Text),
    # Whether the program's own workflow tells the record its prompts (runs from 0005 on): only then can pages
    # read a person's prompts here; for a program started before, they still ask the workflows.
    Column("prompts_recorded", Boolean, nullable=False, server_default=false()),
    # The program's whole spec, as its start recorded it (from 0007; None for a program started before), and
    # whether its workflow tells the record each member's view (member_views): pages then ask no workflow.
    Column("spec", Json),
    Column("members_recorded", Boolean, nullable=False, server_default=false()),
)

participants = Table(
    "participants",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("email", Email, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(10), nullable=False),
    Column("seniority", Integer, nullable=False),
    Column("department", String(200), nullable=False),
    Column("status", String(20), nullable=False),  # invited, opted_in, trained, excluded, matched, ...
    Column("invited_at", DateTime(timezone=True), nullable=False),
    Column("opted_in_at", DateTime(timezone=True)),
    Column("trained_at", DateTime(timezone=True)),
    Column("withdrawn_at", DateTime(timezone=True)),
    Column("withdrawn_in_phase", String(30)),
)

pairings = Table(
    "pairings",
    metadata,
    Column("pairing_id", WorkflowId, primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("mentor", Email, nullable=False),
    Column("mentee", Email, nullable=False),
    Column("score", Float, nullable=False),
    Column("reasons", Json, nullable=False),
    Column("rematch", Boolean, nullable=False),
    Column("stage", String(20), nullable=False),  # introduction, planning, mentoring, closed
    Column("accepted", Integer, nullable=False),
    Column("plan_skills", Json),
    Column("plan_by_default", Boolean),
    Column("cadence_seconds", Integer),
    Column("cycles_run", Integer, nullable=False),
    Column("cycles_met", Integer, nullable=False),
    Column("at_risk", Boolean, nullable=False),
    Column("outcome", String(20)),
    Column("matched_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
)

checkins = Table(
    "checkins",
    metadata,
    Column("pairing_id", WorkflowId, primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("participant", Email, primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("met", Boolean, nullable=False),
    Column("progress", Integer, nullable=False),
    Column("recap_written", Boolean, nullable=False),  # whether, never what
    Column("logged_at", DateTime(timezone=True), nullable=False),
)

checkin_cycles = Table(
    "checkin_cycles",
    metadata,
    Column("pairing_id", WorkflowId, primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("met", Boolean, nullable=False),
    Column("missed_streak", Integer, nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=False),
)

survey_answers = Table(
    "survey_answers",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("pairing_id", WorkflowId, nullable=False),
    Column("participant", Email, nullable=False),
    Column("side", String(10), nullable=False),  # mentor or mentee
    Column("survey", String(20), nullable=False),  # pulse, midpoint, closeout
    Column("cycle", Integer),
    Column("satisfaction", Integer),
    Column("usefulness", Integer),
    Column("safe_and_useful", Integer),
    Column("would_recommend", Boolean),
    Column("comment", Text),  # only when the spec keeps survey comments
    Column("answered_at", DateTime(timezone=True), nullable=False),
)

skill_ratings = Table(
    "skill_ratings",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("skill", String(200), primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("participant", Email, nullable=False),
    Column("side", String(10), nullable=False),
    Column("before", Integer, nullable=False),
    Column("after", Integer, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("event_id", Id, primary_key=True),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("pairing_id", WorkflowId),
    Column("reason", String(40), nullable=False),
    Column("cycle", Integer),
    Column("raised_at", DateTime(timezone=True), nullable=False),
)

metric_snapshots = Table(
    "metric_snapshots",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("label", String(40), primary_key=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("invited", Integer, nullable=False),
    Column("opted_in", Integer, nullable=False),
    Column("trained", Integer, nullable=False),
    Column("matched", Integer, nullable=False),
    Column("withdrawn", Integer, nullable=False),
    Column("enrolment_rate", Float),
    Column("training_completion", Float),
    Column("match_rate", Float),
    Column("checkin_adherence", Float),
    Column("average_progress", Float),
    Column("satisfaction", Float),
    Column("pairings_running", Integer, nullable=False),
    Column("pairings_at_risk", Integer, nullable=False),
    Column("metrics", Json, nullable=False),
    Column("kpis", Json, nullable=False),
)

kpi_results = Table(
    "kpi_results",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("kpi", String(40), primary_key=True),
    Column("value", Float),
    Column("target", Float, nullable=False),
    Column("met", Boolean),
    Column("evaluated_at", DateTime(timezone=True), nullable=False),
)

# Not projections: the outbox of messages (one row per idempotency key; `sent_at` set once delivered) and the
# sign-in links already used. Rebuild leaves both alone.
outbox = Table(
    "outbox",
    metadata,
    Column("key", String(600), primary_key=True),
    Column("recipient", Email, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("program_id", WorkflowId, nullable=False, index=True),
    Column("pairing_id", WorkflowId),
    Column("prompt_id", String(100)),
    Column("notice", Json, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("sent_at", DateTime(timezone=True)),
)

used_links = Table(
    "used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("email", Email, nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False),
)

# Portal sessions: a cookie names one of these; signing out, or signing in again, ends it for good.
portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("email", Email, nullable=False),
    Column("program_id", WorkflowId, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Index("ix_portal_sessions_person", "email", "program_id"),
)

# Not a projection: a program's members in pages, sealed with the codec's keys (names, emails, skills), kept out
# of its workflow input (domain/program.py, `PagesRef`). A batch is written once and never changed.
state_pages = Table(
    "state_pages",
    metadata,
    Column("workflow_id", WorkflowId, primary_key=True),
    Column("batch", String(64), primary_key=True),
    Column("page", Integer, primary_key=True),
    Column("sealed", Text, nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False),
)

# The prompts waiting for each person, as they see them: the view sealed with the codec's keys (a partner's
# name, a plan a partner wrote), the rest plain for ordering. `shown_event_id` changes whenever the prompt is
# shown again, so a page can wait for an answer's effect (read your writes).
open_prompts = Table(
    "open_prompts",
    metadata,
    Column("workflow_id", WorkflowId, primary_key=True),
    Column("participant", Email, primary_key=True),
    Column("prompt_id", String(100), primary_key=True),
    Column("program_id", WorkflowId, nullable=False),
    Column("pairing_id", WorkflowId),
    Column("kind", String(30), nullable=False),
    Column("due_at", DateTime(timezone=True)),
    Column("sealed", Text, nullable=False),
    Column("shown_event_id", Id, nullable=False),
    Index("ix_open_prompts_person", "program_id", "participant"),
)

# Each member's place in the program as they see it (domain.views.MemberView), as the program last showed it.
member_views = Table(
    "member_views",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("email", Email, primary_key=True),
    Column("view", Json, nullable=False),
    Column("shown_event_id", Id, nullable=False),
)

# The coordinator's view of each program (domain.views.ProgramStatus) and its proposal, as the program last showed them.
program_status = Table(
    "program_status",
    metadata,
    Column("program_id", WorkflowId, primary_key=True),
    Column("status", Json, nullable=False),
    Column("proposal", Json),
    Column("shown_event_id", Id, nullable=False),
)

# Each pair's own record (plan and check-ins) as the pairing last showed it, sealed: only the pair's pages open it.
pair_records = Table(
    "pair_records",
    metadata,
    Column("pairing_id", WorkflowId, primary_key=True),
    Column("program_id", WorkflowId, nullable=False),
    Column("sealed", Text, nullable=False),
    Column("shown_event_id", Id, nullable=False),
)

# The projections, in the order rebuild empties them; the event log is never among them.
PROJECTIONS = [
    program_status,
    pair_records,
    member_views,
    open_prompts,
    kpi_results,
    metric_snapshots,
    alerts,
    skill_ratings,
    survey_answers,
    checkin_cycles,
    checkins,
    pairings,
    participants,
    programs,
]
