"""Participants and the roster they arrive in."""

import csv
import difflib
import io
import re
from collections.abc import Iterator
from datetime import time
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # what a Participant holds; stored inputs must still decode
# What a new roster row or participant must be: deliverable, so no control character, no separator a file or a
# mail header would split on, at most 254 characters. Kept out of the model: inputs of running programs were
# checked by _EMAIL only, and must still decode when their workflows replay.
_ADDRESS = r"[^@\s\x00-\x1f\x7f,;:<>()\[\]\\\"]+"
_LABEL = r"[^@\s\x00-\x1f\x7f,;:<>()\[\]\\\"'.]+"
_DELIVERABLE = re.compile(rf"^{_ADDRESS}@(?:{_LABEL}\.)+{_LABEL}$")
# Control characters come from broken exports, never from a person typing; PostgreSQL cannot even store NUL.
# Tab and line breaks are whitespace, handled where they can appear.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
# Optional, after the required columns: rosters written before it existed still load.
OPTIONAL_COLUMNS = ["working_hours"]
ROSTER_COLUMNS = [*ROSTER_HEADER, *OPTIONAL_COLUMNS]
MIN_SENIORITY, MAX_SENIORITY = 0, 20
MAX_EMAIL_LENGTH = 254  # RFC 5321: no longer address can be delivered
QUOTED_MAX = 60


def quoted(text: str, limit: int = QUOTED_MAX) -> str:
    """A value quoted for a message, cut short so that a huge input cannot flood the message."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.match(email):
        raise ValueError(f"{quoted(value)} is not an email address")
    return email


def is_deliverable(email: str) -> bool:
    return len(email) <= MAX_EMAIL_LENGTH and _DELIVERABLE.match(email) is not None


def named(value: str) -> str:
    """Who someone said they are, as a message shows it: as typed when it is plain, else quoted and cut short."""
    return value if value and len(value) <= QUOTED_MAX and value.isprintable() else quoted(value)


def _trimmed_lower(value: str) -> str:
    return value.strip().lower()


EmailAddress = Annotated[str, AfterValidator(_trimmed_lower)]
"""An email as people type it (any case, stray spaces), read into the form rosters keep. Never refused here:
whether it is someone's is for the checks to say, so an answer accepted once always decodes again."""


def control_character(text: str) -> str | None:
    """The first control character in `text`, written U+0000, or None when it has none."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


class Role(StrEnum):
    """The side a person wants: the mentor is the newer colleague who teaches someone more senior."""

    MENTOR = "mentor"
    MENTEE = "mentee"
    EITHER = "either"


class WorkingHours(BaseModel):
    """When someone works, Monday to Friday in their own time zone; an end before the start runs past midnight."""

    model_config = ConfigDict(frozen=True)

    start: time = time(9)
    end: time = time(17)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
HOURS_RULE = "write them like 09:00-17:00 (24-hour clock, local time)"


def parse_working_hours(text: str) -> WorkingHours:
    """Working hours written like 09:00-17:00; a ValueError saying how to write them."""
    found = _HOURS.match(text.strip())
    if found is None:
        raise ValueError(f"{quoted(text)} are not working hours; {HOURS_RULE}")
    start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
    if max(start_h, end_h) > 23 or max(start_m, end_m) > 59:
        raise ValueError(f"{quoted(text)} is not a time of day; {HOURS_RULE}")
    hours = WorkingHours(start=time(start_h, start_m), end=time(end_h, end_m))
    if hours.start == hours.end:
        raise ValueError(f"{quoted(text)} start and end at the same time; {HOURS_RULE}")
    return hours


class Participant(BaseModel):
    model_config = ConfigDict(frozen=True)

    email: str
    name: str = Field(min_length=1)
    role: Role
    seniority: int = Field(
        ge=MIN_SENIORITY, le=MAX_SENIORITY, description="Level in the organisation; higher is more senior."
    )
    department: str = ""
    skills_offered: list[str] = []
    skills_wanted: list[str] = []
    interests: list[str] = []
    timezone: str = "UTC"
    manager_email: str | None = None
    working_hours: WorkingHours = WorkingHours()  # absent from inputs written before it existed

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
        return [tidy for v in values if (tidy := v.strip().lower())]

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


class NotUtf8(ValueError):
    """A file whose bytes are not UTF-8 text, with the line of the first byte that is not."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


def utf8_text(data: bytes) -> str:
    """A file's text when it is UTF-8 (a leading BOM is dropped); else NotUtf8, saying how to save it."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise NotUtf8(1, "the file is saved as UTF-16; save it as UTF-8 (in a spreadsheet: CSV UTF-8)")
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        message = f"byte 0x{data[error.start]:02x} is not UTF-8 text; save the file as UTF-8"
        raise NotUtf8(line, message) from None
    return text.replace("\r\n", "\n").replace("\r", "\n")  # universal newlines, as reading in text mode does


def decode_roster(data: bytes) -> str:
    """The text of a roster file, or a RosterError naming the line of its first byte that is not UTF-8."""
    try:
        return utf8_text(data)
    except NotUtf8 as error:
        raise RosterError([RosterProblem(line=error.line, message=error.message)]) from None


def validation_problems(error: ValidationError) -> list[str]:
    """One readable sentence per problem, naming the field."""
    parts = []
    for item in error.errors():
        field = ".".join(str(p) for p in item["loc"]) or "value"
        parts.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return parts


def describe_validation_error(error: ValidationError) -> str:
    return "; ".join(validation_problems(error))


_ROLES = frozenset(Role)
_ROLE_CHOICES = ", ".join(r.value for r in list(Role)[:-1]) + f" or {list(Role)[-1].value}"  # mentor, mentee or either
_SENIORITY_RULE = f"a whole number from {MIN_SENIORITY} to {MAX_SENIORITY}, higher is more senior"
_SUGGESTIONS_MAX = 50  # difflib costs about 2 ms a look-up; a file of typos must not take minutes to refuse
_LOOP_SHOWN = 6  # a loop of hundreds of people is named by its first few and its size


def parse_roster(text: str, known_timezones: frozenset[str] | None = None) -> list[Participant]:
    """Parse a roster CSV; raise RosterError listing every bad line, so nothing starts from a bad file.

    Each cell is checked here, in plain Python, so every reason can be put the way a coordinator reads it;
    a row that passes then goes through pydantic, which stays the authority on what a Participant is.
    Line numbers are those of a text editor: a row whose quoted cell holds a line break is reported by the
    line it starts on.
    """
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))  # spreadsheets often save UTF-8 with a BOM
    columns = _columns(next(reader, None))
    problems: list[RosterProblem] = []
    participants: list[Participant] = []
    line_of: dict[str, int] = {}  # first line of each email
    managers: dict[str, str] = {}
    timezones = _TimezoneHints(known_timezones) if known_timezones is not None else None
    for start, end, cells in _rows(reader, problems):
        if len(cells) != len(columns):
            problems.append(RosterProblem(line=start, message=_column_count_problem(columns, len(cells), start, end)))
            continue
        row, reasons = _read_row(cells, timezones)
        reasons += _control_characters(columns, cells)
        problems.extend(RosterProblem(line=start, message=reason) for reason in reasons)
        email = row["email"]
        if email is None:
            continue
        if email in line_of:
            problems.append(
                RosterProblem(line=start, message=f"email: {email} already appears on line {line_of[email]}")
            )
            continue
        line_of[email] = start
        if row["manager_email"] not in (None, email):
            managers[email] = row["manager_email"]
        if not reasons:
            _validated(row, start, participants, problems)
    problems.extend(_manager_loops(managers, line_of))
    if not line_of and not problems:
        problems.append(RosterProblem(line=1, message="the roster has no participants"))
    if problems:
        raise RosterError(sorted(problems, key=lambda p: p.line))  # stable: a row's reasons stay in column order
    return participants


def _columns(header: list[str] | None) -> list[str]:
    """The columns the header names (the optional last one may be left out); RosterError for a wrong header."""
    if header is None:
        rule = f"the first line must be the header {','.join(ROSTER_HEADER)}"
        raise RosterError([RosterProblem(line=1, message=f"the file is empty; {rule}")])
    if (wrong := _header_problem(header)) is not None:
        raise RosterError([RosterProblem(line=1, message=wrong)])
    return list(ROSTER_HEADER if len(header) == len(ROSTER_HEADER) else ROSTER_COLUMNS)


def _rows(reader: Any, problems: list[RosterProblem]) -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, cells) of each row that is not blank; a row the CSV reader cannot read is a
    problem, and ends the reading (nothing after a runaway quoted cell can be trusted)."""
    end = reader.line_num
    while True:
        start = end + 1
        try:
            cells = next(reader, None)
        except csv.Error as error:
            message = f'the file cannot be read past this row ({error}); check it for an unmatched "'
            problems.append(RosterProblem(line=start, message=message))
            return
        end = reader.line_num
        if cells is None:
            return
        if "".join(cells).strip():  # skips blank lines, and the ",,,,," rows spreadsheets leave at the bottom
            yield start, end, cells


def _control_characters(columns: list[str], cells: list[str]) -> list[str]:
    joined = "".join(cells)
    if joined.isprintable() or not _CONTROL.search(joined):  # rare: only then is each cell looked at
        return []
    return [
        f"{column}: contains the control character {found}; retype the cell or export the file again"
        for column, cell in zip(columns, cells, strict=True)
        if (found := control_character(cell))
    ]


def _validated(row: dict[str, Any], line: int, participants: list[Participant], problems: list[RosterProblem]) -> None:
    # Validated row by row, not in one TypeAdapter call at the end: holding 50,000 dicts until then lengthened
    # every pass of the garbage collector and made the parse about a quarter slower.
    try:
        participants.append(Participant.model_validate(row))
    except ValidationError as error:  # a rule of Participant that the checks above do not know yet
        problems.extend(RosterProblem(line=line, message=m) for m in validation_problems(error))


def _read_row(cells: list[str], timezones: "_TimezoneHints | None") -> tuple[dict[str, Any], list[str]]:
    """The row's fields for Participant, and why any of them is wrong (email None if unusable)."""
    # One strip per cell that needs it, no list or generator: at 50,000 rows every allocation is paid again
    # by the garbage collector.
    required = cells if len(cells) == len(ROSTER_HEADER) else cells[: len(ROSTER_HEADER)]
    raw_email, name, raw_role, raw_seniority, department, offered, wanted, interests, raw_zone, raw_manager = required
    raw_email, name, raw_role, raw_seniority = raw_email.strip(), name.strip(), raw_role.strip(), raw_seniority.strip()
    raw_zone, raw_manager = raw_zone.strip(), raw_manager.strip()
    reasons = []
    email: str | None = raw_email.lower()
    if not raw_email:
        reasons.append("email: missing")
        email = None
    elif not is_deliverable(raw_email.lower()):
        reasons.append(f"email: {quoted(raw_email)} is not an email address")
        email = None
    if "\n" in name:  # a line break inside a quoted name is not part of the name
        name = " ".join(name.split())
    if not name:
        reasons.append("name: missing")
    role = raw_role.lower()
    if role not in _ROLES:
        said = f"{quoted(raw_role)} is not a role" if raw_role else "missing"
        reasons.append(f"role: {said}; use {_ROLE_CHOICES}")
    seniority = -1
    if raw_seniority.isascii() and raw_seniority.isdigit() and len(raw_seniority) <= 4:  # int() refuses 4,301 digits
        seniority = int(raw_seniority)
    if not MIN_SENIORITY <= seniority <= MAX_SENIORITY:
        said = f"{quoted(raw_seniority)} is not" if raw_seniority else "missing; use"
        reasons.append(f"seniority: {said} {_SENIORITY_RULE}")
    zone = raw_zone or "UTC"
    if timezones is not None and zone not in timezones.known:
        reasons.append(f"timezone: unknown time zone {quoted(zone)}{timezones.hint(zone)}")
    manager: str | None = raw_manager.lower() or None
    if manager is not None and not is_deliverable(manager):
        reasons.append(f"manager_email: {quoted(raw_manager)} is not an email address")
        manager = None
    elif manager is not None and manager == email:
        reasons.append("manager_email: a person cannot be their own manager")
    row = {
        "email": email,
        "name": name,
        "role": role,
        "seniority": seniority,
        "department": department.strip(),
        "skills_offered": offered.split(";"),  # Participant strips, lowers and drops the empty ones
        "skills_wanted": wanted.split(";"),
        "interests": interests.split(";"),
        "timezone": zone,
        "manager_email": manager,
    }
    if len(cells) > len(ROSTER_HEADER):
        _read_working_hours(cells[len(ROSTER_HEADER)], row, reasons)
    return row, reasons


def _read_working_hours(cell: str, row: dict[str, Any], reasons: list[str]) -> None:
    """The optional working_hours cell into the row; an empty one leaves the default (09:00-17:00)."""
    if not cell.strip():
        return
    try:
        row["working_hours"] = parse_working_hours(cell)
    except ValueError as error:
        reasons.append(f"working_hours: {error}")


def _header_problem(header: list[str]) -> str | None:
    """None when the header is right, else which columns are missing, unexpected, repeated or out of order."""
    names = [h.strip().lower() for h in header]
    if names in (ROSTER_HEADER, ROSTER_COLUMNS):
        return None
    parts = [f"the header must be {','.join(ROSTER_HEADER)}"]
    missing = [c for c in ROSTER_HEADER if c not in names]
    if missing:
        parts.append(f"missing: {', '.join(missing)}")
    unexpected = []
    meant = missing + [c for c in OPTIONAL_COLUMNS if c not in names]
    for name, written in ((n, h.strip()) for n, h in zip(names, header, strict=True) if n not in ROSTER_COLUMNS):
        close = difflib.get_close_matches(name, meant, n=1, cutoff=0.6)  # "e-mail" for email, "manager"...
        unexpected.append(
            (quoted(written) if written else "an unnamed column") + (f" (did you mean {close[0]}?)" if close else "")
        )
    if unexpected:
        parts.append(f"unexpected: {', '.join(unexpected)}")
    repeated = sorted({n for n in names if n in ROSTER_COLUMNS and names.count(n) > 1})
    if repeated:
        parts.append(f"repeated: {', '.join(repeated)}")
    if len(parts) == 1:
        parts.append("the columns are in a different order")
    return "; ".join(parts)


def _column_count_problem(columns: list[str], found: int, start: int, end: int) -> str:
    message = f"expected {len(columns)} columns, found {found}"
    if end > start:  # a quote that never closes swallows the lines after it into one cell
        return f'{message}; this row runs on to line {end}: check it for an unmatched "'
    if found > len(columns):
        return f"{message}; a value containing a comma must be in double quotes"
    return message


class _TimezoneHints:
    """Suggests the zone someone meant: same name in other letter case, a city alone, or a close spelling."""

    def __init__(self, known: frozenset[str]) -> None:
        self.known = known
        self._index: dict[str, str] | None = None
        self._spellings: list[str] = []
        self._cache: dict[str, str] = {}

    def hint(self, zone: str) -> str:
        if zone not in self._cache:
            found = self._find(zone)
            self._cache[zone] = f"; did you mean {found!r}?" if found else ""
        return self._cache[zone]

    def _find(self, zone: str) -> str | None:
        if self._index is None:  # built on the first bad zone only, so a good file pays nothing
            # Area/City names only: the Etc/GMT+1 family means UTC-1, a trap to suggest for "GMT+1".
            cities = sorted(z for z in self.known if "/" in z and not z.startswith("Etc/"))
            self._index = {z.rsplit("/", 1)[-1].lower(): z for z in cities} | {z.lower(): z for z in self.known}
            self._spellings = [z.lower() for z in cities]
        key = zone.lower().replace(" ", "_")
        if key in self._index:
            return self._index[key]
        if len(self._cache) >= _SUGGESTIONS_MAX:
            return None
        close = difflib.get_close_matches(key, self._spellings, n=1, cutoff=0.8)
        return self._index[close[0]] if close else None


def _manager_loops(managers: dict[str, str], line_of: dict[str, int]) -> list[RosterProblem]:
    """A problem on each line of every loop of managers, in one pass: each person is walked past once."""
    problems = []
    done: set[str] = set()
    for first in managers:
        path: dict[str, int] = {}  # the walk up from `first`, each person's position on it
        current: str | None = first
        while current is not None and current not in done and current not in path:
            path[current] = len(path)
            current = managers.get(current)
        if current is not None and current in path:
            loop = list(path)[path[current] :]
            for i, email in enumerate(loop):
                chain = _describe_loop(loop, i)
                problems.append(
                    RosterProblem(
                        line=line_of[email], message=f"manager_email: the chain of managers loops back: {chain}"
                    )
                )
        done.update(path)
    return problems


def _describe_loop(loop: list[str], start: int) -> str:
    """The loop as read from loop[start] upwards and back to them: "a -> b -> a"."""
    size = len(loop)
    if size <= _LOOP_SHOWN:
        names = [loop[(start + k) % size] for k in range(size)]
        return " -> ".join([*names, loop[start]])
    names = [loop[(start + k) % size] for k in range(3)]
    return " -> ".join([*names, "...", loop[(start - 1) % size], loop[start]]) + f" ({size} people)"


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
