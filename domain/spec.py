"""The program spec a coordinator writes in TOML: purpose, goals and KPIs, rules, durations, matching."""

import re
import tomllib
from datetime import timedelta
from enum import StrEnum
from typing import Any, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from domain.durations import PositiveDuration
from domain.people import (
    NotUtf8,
    control_character,
    is_deliverable,
    normalise_email,
    quoted,
    utf8_text,
    validation_problems,
)


class Kpi(StrEnum):
    """What a business goal is measured by; each is computed from the program's own record."""

    ENROLMENT_RATE = "enrolment_rate"  # opted in / invited
    TRAINING_COMPLETION = "training_completion"  # trained / opted in
    MATCH_RATE = "match_rate"  # matched / trained
    CHECKIN_ADHERENCE = "checkin_adherence"  # check-in cycles where the pair met / cycles run
    COMPLETION_RATE = "completion_rate"  # pairings that completed / pairings kicked off
    AVERAGE_PROGRESS = "average_progress"  # mean 1-5 progress rating from check-ins
    SATISFACTION = "satisfaction"  # mean 1-5 close-out satisfaction
    SKILL_GAIN = "skill_gain"  # mean after-minus-before self-rating of the mentees' plan skills
    RETENTION = "retention"  # matched people who did not withdraw / matched people


# Every table of a spec refuses unknown keys: a misspelt setting ("auto_aprove") must be reported, not dropped
# in favour of its default.
# A spec travels in every program's history and every continue-as-new, so the models decode it tolerantly: a key
# they do not know (written by a newer worker in a rolling deploy) is ignored, and the rules between fields run
# only at the door (load_spec), so tightening one never stops a running program from decoding its own spec.
# Unknown keys are refused at the door too (unknown_keys). Field bounds (ge, le, min_length) stay in the models
# for the JSON Schema: loosen them freely, and tighten one only at the door.
TOLERANT = ConfigDict(extra="ignore", json_schema_extra={"additionalProperties": False})  # the door refuses them
AT_THE_DOOR = {"door": True}  # the validation context of load_spec


def at_the_door(info: ValidationInfo) -> bool:
    return isinstance(info.context, dict) and info.context.get("door") is True


RATE_KPIS = {Kpi.ENROLMENT_RATE, Kpi.TRAINING_COMPLETION, Kpi.MATCH_RATE, Kpi.CHECKIN_ADHERENCE}
RATE_KPIS |= {Kpi.COMPLETION_RATE, Kpi.RETENTION}
SCALE_KPIS = {Kpi.AVERAGE_PROGRESS, Kpi.SATISFACTION}


class BusinessGoal(BaseModel):
    model_config = TOLERANT

    goal: str = Field(min_length=1, description="What the business wants, in words.")
    kpi: Kpi
    target: float = Field(description="The goal is met when the KPI is at least this value.")

    @model_validator(mode="after")
    def _target_in_range(self, info: ValidationInfo) -> Self:
        if not at_the_door(info):
            return self
        if self.kpi in RATE_KPIS and not 0 <= self.target <= 1:
            raise ValueError(f"the target of {self.kpi} is a share between 0 and 1, got {self.target}")
        if self.kpi in SCALE_KPIS and not 1 <= self.target <= 5:
            raise ValueError(f"the target of {self.kpi} is on the 1-5 scale, got {self.target}")
        if self.kpi == Kpi.SKILL_GAIN and not -4 <= self.target <= 4:
            raise ValueError(f"the target of skill_gain is between -4 and 4 points, got {self.target}")
        return self


class Durations(BaseModel):
    model_config = TOLERANT

    recruitment: PositiveDuration = Field(description="How long invitations stay open.")
    training: PositiveDuration = Field(description="How long participants have to finish the training modules.")
    answer_window: PositiveDuration = Field(description="How long a person has to answer a prompt (a match, a survey).")
    checkin_cadence: PositiveDuration = Field(description="Default time between check-ins; a pair may agree another.")
    program_length: PositiveDuration = Field(description="Length of the mentoring period from kick-off to close-out.")
    cadence_min: PositiveDuration | None = Field(default=None, description="Shortest cadence a plan may agree.")
    cadence_max: PositiveDuration | None = Field(default=None, description="Longest cadence a plan may agree.")

    @model_validator(mode="after")
    def _coherent(self, info: ValidationInfo) -> Self:
        if not at_the_door(info):
            return self
        if self.program_length < 2 * self.checkin_cadence:
            raise ValueError("program_length must allow at least two check-ins (twice checkin_cadence)")
        if self.answer_window >= self.program_length:
            raise ValueError("answer_window must be shorter than program_length")
        if self.shortest_cadence > self.longest_cadence:
            raise ValueError("cadence_min must not be longer than cadence_max")
        return self

    @property
    def midpoint(self) -> timedelta:
        return self.program_length / 2

    @property
    def shortest_cadence(self) -> timedelta:
        return self.cadence_min or self.checkin_cadence / 2

    @property
    def longest_cadence(self) -> timedelta:
        return self.cadence_max or min(self.checkin_cadence * 2, self.program_length / 2)


class ReminderPolicy(BaseModel):
    model_config = TOLERANT

    nudge_before: PositiveDuration = Field(description="Send a reminder this long before a prompt is due.")
    missed_checkins_alert: int = Field(default=2, ge=1, description="Consecutive missed check-ins that alert.")
    low_answer: int = Field(default=2, ge=1, le=4, description="A 1-5 answer at or below this is low.")


class MatchingMode(StrEnum):
    ALGORITHM = "algorithm"
    SELF_SELECT = "self_select"
    HYBRID = "hybrid"


MAX_MENTOR_CAPACITY = 5  # group mentoring beyond five mentees stops being mentoring


class MatchWeights(BaseModel):
    """Points a possible pair earns; the matcher proposes the pairs with the most points in total."""

    model_config = TOLERANT

    skills_taught: float = Field(
        default=3.0, ge=0, le=100, description="Per skill the mentor offers that the mentee wants to learn."
    )
    skills_learned_back: float = Field(
        default=1.0, ge=0, le=100, description="Per skill the mentee offers that the mentor wants to learn."
    )
    shared_interests: float = Field(default=0.5, ge=0, le=100, description="Per interest the two share.")
    timezone_overlap: float = Field(
        default=0.25, ge=0, le=100, description="Per hour the two working days overlap (see working_hours)."
    )
    cross_department: float = Field(
        default=1.0,
        ge=0,
        le=100,
        description="Added when the two work in different departments and prefer_cross_department is on.",
    )
    stated_preference: float = Field(
        default=2.0, ge=0, le=100, description="Added for each of the two who named the other as a preferred partner."
    )


class WorkingHours(BaseModel):
    """The working day, in each person's own time zone, used to count the hours two people can meet."""

    model_config = TOLERANT

    start: int = Field(default=9, ge=0, le=23, description="Local hour the working day starts.")
    end: int = Field(default=17, ge=1, le=24, description="Local hour the working day ends.")

    @model_validator(mode="after")
    def _ordered(self, info: ValidationInfo) -> Self:
        if not at_the_door(info):
            return self
        if self.start >= self.end:
            raise ValueError(f"the working day must start before it ends, got {self.start} to {self.end}")
        return self


class MatchingPolicy(BaseModel):
    model_config = TOLERANT

    mode: MatchingMode = MatchingMode.ALGORITHM
    auto_approve: bool = Field(default=False, description="Approve proposed pairs without a coordinator.")
    prefer_cross_department: bool = Field(
        default=True, description="Score pairs across departments higher (weights.cross_department)."
    )
    mentor_capacity: int = Field(
        default=1,
        ge=1,
        le=MAX_MENTOR_CAPACITY,
        description="Mentees one mentor may take; above 1 allows group mentoring when mentors are scarce.",
    )
    weights: MatchWeights = Field(default_factory=MatchWeights, description="Points for what makes a good pair.")
    working_hours: WorkingHours = Field(
        default_factory=WorkingHours, description="Working day used for the time-zone overlap."
    )


SLUG_MAX = 63
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class ProgramSpec(BaseModel):
    model_config = TOLERANT

    name: str = Field(min_length=1)
    slug: str = Field(default="", description="Used in workflow ids; derived from the name when empty.")
    purpose: str = Field(min_length=1)
    coordinators: list[str] = Field(min_length=1, description="Emails of the people who run the program.")
    business_goals: list[BusinessGoal] = Field(min_length=1)
    ground_rules: list[str] = Field(min_length=1)
    training_modules: list[str] = []
    durations: Durations
    reminders: ReminderPolicy
    matching: MatchingPolicy = MatchingPolicy()
    keep_survey_comments: bool = Field(default=False, description="Keep survey free text in the record.")

    @field_validator("coordinators")
    @classmethod
    def _emails(cls, values: list[str], info: ValidationInfo) -> list[str]:
        return [normalise_email(v) if at_the_door(info) else v.strip().lower() for v in values]

    @model_validator(mode="after")
    def _derive_slug(self, info: ValidationInfo) -> Self:
        if self.slug:
            if at_the_door(info) and not _SLUG.fullmatch(self.slug):
                raise ValueError(f"slug {quoted(self.slug)} must be lowercase letters, digits and hyphens, at most 63")
            return self
        # From the name: its ASCII letters and digits, cut at a hyphen to fit (a long name is still a good name).
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")
        if len(slug) > SLUG_MAX:
            slug = slug[: SLUG_MAX + 1].rsplit("-", 1)[0] if "-" in slug[:SLUG_MAX] else slug[:SLUG_MAX]
        if not _SLUG.fullmatch(slug):
            raise ValueError(
                f"the name {quoted(self.name)} has no letters a-z or digits to make an id from; "
                "add a slug of lowercase letters, digits and hyphens"
            )
        self.slug = slug
        return self

    @property
    def program_id(self) -> str:
        return f"program-{self.slug}"


class SpecError(ValueError):
    """A spec that cannot run, with one line per problem naming the field."""


def decode_spec(data: bytes) -> str:
    """The text of a spec file, or a SpecError naming the line of its first byte that is not UTF-8."""
    try:
        return utf8_text(data)
    except NotUtf8 as error:
        raise SpecError(str(error)) from None


def load_spec(text: str) -> ProgramSpec:
    """A spec file's TOML, checked at the door (spec_at_the_door)."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"not valid TOML: {error}") from error
    return spec_at_the_door(data)


def spec_at_the_door(data: dict[str, Any]) -> ProgramSpec:
    """A spec as a coordinator gave it, with every check a new program must pass; a SpecError lists each problem,
    one line each, naming its field. (Decoding a spec from history checks far less: see TOLERANT.)"""
    # TOML lets "\u0000" through as an escape; checked here rather than in the model, so that a program
    # already running on such a spec still decodes its input when it replays.
    if controls := _control_characters(data):
        raise SpecError("\n".join(controls))
    unknown = unknown_keys(ProgramSpec, data)
    try:
        spec = ProgramSpec.model_validate(data, context=AT_THE_DOOR)
    except ValidationError as error:
        # One line per problem: a message may itself contain "; ", so never split a joined text.
        raise SpecError("\n".join([*unknown, *validation_problems(error)])) from error
    if unknown:
        raise SpecError("\n".join(unknown))
    # Also checked here, at the door, and not in the model: a program already running on a spec that passed
    # before these checks must still decode it when it replays or continues as new.
    if problems := [*_line_breaks(spec), *_undeliverable(spec)]:
        raise SpecError("\n".join(problems))
    return spec


def unknown_keys(model: type[BaseModel], data: object, where: str = "") -> list[str]:
    """A problem per key of `data` that `model` (or a model inside it) has no field for: a typo refused at the
    door, where decoding from history ignores it (see TOLERANT)."""
    if not isinstance(data, dict):
        return []
    problems = []
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        field = model.model_fields.get(str(key))
        if field is None:
            problems.append(f"{path}: Extra inputs are not permitted")
            continue
        for inner in _models_in(field.annotation):
            items = enumerate(value) if isinstance(value, list) else [(None, value)]
            for i, item in items:
                problems += unknown_keys(inner, item, path if i is None else f"{path}.{i}")
    return problems


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds: itself, or inside list[...], X | None and the like."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def _line_breaks(spec: ProgramSpec) -> list[str]:
    """Texts that become one line of a message (an email's subject, a list of rules) must be one line."""
    lines = {"name": spec.name, **{f"ground_rules.{i}": r for i, r in enumerate(spec.ground_rules)}}
    lines |= {f"training_modules.{i}": m for i, m in enumerate(spec.training_modules)}
    lines |= {f"business_goals.{i}.goal": g.goal for i, g in enumerate(spec.business_goals)}
    return [
        f"{where}: must be one line, without line breaks"
        for where, text in lines.items()
        if "\n" in text or "\r" in text
    ]


def _undeliverable(spec: ProgramSpec) -> list[str]:
    """Coordinators' addresses receive alerts and reports: each must be one address mail can be delivered to (a
    comma, say, would make two recipients of one)."""
    return [
        f"coordinators.{i}: {quoted(email)} is not an address mail can be delivered to"
        for i, email in enumerate(spec.coordinators)
        if not is_deliverable(email)
    ]


def _control_characters(value: object, where: str = "") -> list[str]:
    """A problem per text of the spec holding a control character, named by its field."""
    if isinstance(value, str):
        found = control_character(value)
        return [f"{where or 'value'}: contains the control character {found}"] if found else []
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _control_characters(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _control_characters(v, f"{where}.{i}")]
    return []


def id_already_used(program_id: str, slug: str, earlier: str) -> str:
    """Why a program cannot start under an id an earlier run used, and what to do instead.

    `earlier` describes that run ("started 2026-12-01 09:00 UTC, now cancelled").
    """
    return (
        f"{program_id} was used before: a run {earlier}. A program id is never reused, so that each run keeps "
        f'its own record and messages. Give the spec another name, or a slug such as slug = "{slug}-2", and start '
        "again."
    )
