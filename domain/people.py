"""Participants and the roster they arrive in."""

import csv
import io
import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROSTER_HEADER = [
    "email",
    "name",
    "role",
    "seniority",
    "department",
    "skills_offered",
    "skills_wanted",
    "interests",
    "timezone",
    "manager_email",
]


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{value!r} is not an email address")
    return email


class Role(StrEnum):
    """The side a person wants: the mentor is the newer colleague who teaches someone more senior."""

    MENTOR = "mentor"
    MENTEE = "mentee"
    EITHER = "either"


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    name: str = Field(min_length=1)
    role: Role
    seniority: int = Field(ge=0, le=20, description="Level in the organisation; higher is more senior.")
    department: str = ""
    skills_offered: list[str] = []
    skills_wanted: list[str] = []
    interests: list[str] = []
    timezone: str = "UTC"
    manager_email: str | None = None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return normalise_email(value)

    @field_validator("manager_email")
    @classmethod
    def _manager(cls, value: str | None) -> str | None:
        return normalise_email(value) if value else None

    @field_validator("skills_offered", "skills_wanted", "interests")
    @classmethod
    def _tidy(cls, values: list[str]) -> list[str]:
        return [v.strip().lower() for v in values if v.strip()]

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class RosterProblem(BaseModel):
    line: int
    message: str


class RosterError(ValueError):
    """Every problem of a roster at once, so a coordinator fixes the file in one pass."""

    def __init__(self, problems: list[RosterProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(f"line {p.line}: {p.message}" for p in problems))


def _split_list(cell: str) -> list[str]:
    return [item.strip() for item in cell.split(";") if item.strip()]


def _row_to_participant(row: dict[str, str]) -> Participant:
    return Participant(
        email=row["email"],
        name=row["name"].strip(),
        role=row["role"].strip().lower(),  # pydantic validates the enum
        seniority=row["seniority"].strip(),
        department=row["department"].strip(),
        skills_offered=_split_list(row["skills_offered"]),
        skills_wanted=_split_list(row["skills_wanted"]),
        interests=_split_list(row["interests"]),
        timezone=row["timezone"].strip() or "UTC",
        manager_email=row["manager_email"].strip() or None,
    )


def validation_problems(error: ValidationError) -> list[str]:
    """One readable sentence per problem, naming the field."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "value"
        parts.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return parts


def describe_validation_error(error: ValidationError) -> str:
    return "; ".join(validation_problems(error))


def parse_roster(text: str, known_timezones: frozenset[str] | None = None) -> list[Participant]:
    """Parse a roster CSV; raise RosterError listing every bad line, so nothing starts from a bad file."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if header != ROSTER_HEADER:
        raise RosterError([RosterProblem(line=1, message=f"the header must be {','.join(ROSTER_HEADER)}")])
    participants: list[Participant] = []
    problems: list[RosterProblem] = []
    line_of: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            problems.append(RosterProblem(line=line, message=f"expected {len(ROSTER_HEADER)} columns"))
            continue
        try:
            person = _row_to_participant(row)
        except ValidationError as error:
            problems.append(RosterProblem(line=line, message=describe_validation_error(error)))
            continue
        if known_timezones is not None and person.timezone not in known_timezones:
            problems.append(RosterProblem(line=line, message=f"timezone: unknown time zone {person.timezone!r}"))
        if person.email in line_of:
            problems.append(
                RosterProblem(
                    line=line, message=f"email: {person.email} already appears on line {line_of[person.email]}"
                )
            )
            continue
        if person.manager_email == person.email:
            problems.append(RosterProblem(line=line, message="manager_email: a person cannot be their own manager"))
        line_of[person.email] = line
        participants.append(person)
    problems.extend(_manager_loops(participants, line_of))
    if not participants and not problems:
        problems.append(RosterProblem(line=1, message="the roster has no participants"))
    if problems:
        raise RosterError(sorted(problems, key=lambda p: p.line))
    return participants


def _manager_loops(participants: list[Participant], line_of: dict[str, int]) -> list[RosterProblem]:
    managers = {p.email: p.manager_email for p in participants if p.manager_email}
    problems = []
    for email in managers:
        seen = {email}
        current = managers.get(email)
        while current is not None and current in managers:
            if current in seen:
                problems.append(
                    RosterProblem(line=line_of[email], message="manager_email: the chain of managers loops back")
                )
                break
            seen.add(current)
            current = managers.get(current)
    return problems


def management_chain(email: str, managers: dict[str, str]) -> set[str]:
    """Everyone above a person, following manager_email upwards (loops already refused by the roster)."""
    chain: set[str] = set()
    current = managers.get(email)
    while current is not None and current not in chain:
        chain.add(current)
        current = managers.get(current)
    return chain


def handle(email: str) -> str:
    """The readable part of an email used in workflow ids: "Ana.Lopez@acme.com" -> "ana.lopez"."""
    return re.sub(r"[^a-z0-9.]+", "-", email.split("@")[0].lower()).strip("-") or "person"
