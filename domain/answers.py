"""What people send: one small input per prompt kind or coordinator action.

Fields are loosely typed on purpose (a rating is any int): the workflows' update validators check the values
and refuse bad ones with a sentence a person understands, before anything reaches the history. Emails are
the exception: they are read into the roster's form (trimmed, lower case) so that everyone compares alike.
Limits on size (`check_text`, `check_items`) live in the checks, not in the models, so that an answer
accepted before a limit changed still decodes when its workflow replays.
"""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from domain.durations import Duration
from domain.people import EmailAddress, Participant, control_character, quoted

MAX_TEXT = 4000  # a recap, comment or reason: a few paragraphs
MAX_SHORT = 200  # one goal, skill, module, channel or id
MAX_ITEMS = 20  # goals, skills, modules or ratings in one answer
PROBLEMS_SHOWN = 5

M = TypeVar("M", bound=BaseModel)


class Refusal(ValueError):
    """An answer or action that cannot be accepted; the message is shown to the person as it is.

    `field` names the answer's field it is about, as a path into the answer ("progress", "skill_ratings.0.after"),
    so a form can show the sentence next to that field; None when it is about the answer as a whole.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def require(condition: bool, message: str, field: str | None = None) -> None:
    if not condition:
        raise Refusal(message, field)


def check_rating(value: int, what: str, field: str | None = None) -> None:
    require(1 <= value <= 5, f"{what} must be a whole number from 1 to 5, not {shown(value)}", field)


def check_text(value: str, what: str, limit: int = MAX_TEXT, field: str | None = None) -> None:
    require(len(value) <= limit, f"keep {what} under {limit:,} characters", field)
    found = control_character(value)
    require(found is None, f"{what} contains the control character {found}; please retype it", field)


def check_items(values: list[str], what: str, limit: int = MAX_ITEMS, field: str | None = None) -> None:
    """A list of short entries: goals, skills, modules."""
    require(len(values) <= limit, f"name at most {limit} {what}", field)
    for value in values:
        check_text(value, f"each of the {what}", MAX_SHORT, field)


def listed(problems: list[str], separator: str = "; ") -> str:
    """Several problems in one sentence, the first few in full: a huge answer cannot flood the message."""
    more = len(problems) - PROBLEMS_SHOWN
    return separator.join(problems[:PROBLEMS_SHOWN]) + (f"{separator}and {more} more" if more > 0 else "")


def shown(value: object) -> str:
    """A value someone sent, as they would have written it in JSON, cut short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, int | float):
        text = str(value)
        return text if len(text) <= 20 else f"a number of {len(text)} digits"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bytes):
        return "binary data"
    return "a value of another kind"


# What pydantic says about a field, the way a person would say it: "must be true or false, not 'maybe'".
_MUST_BE = {
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_parsing_size": "must be a whole number of reasonable size",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
}


def _problem(error: Any) -> str:
    # Items are counted from 1, as people count them: "skill_ratings.1.before" is the first rating's.
    field = ".".join(str(p + 1) if isinstance(p, int) else str(p) for p in error["loc"])
    kind, message = error["type"], str(error["msg"])
    if kind == "missing":
        return f"{field} is missing"
    if kind in _MUST_BE:
        return f"{field} {_MUST_BE[kind]}, not {shown(error['input'])}"
    if kind == "value_error":
        return f"{field}: {message.removeprefix('Value error, ')}"
    return f"{field} {message.replace('Input should be', 'must be').replace('String should', 'must')}"


def read_answer(model: type[M], sent: tuple[object, ...]) -> M:
    """The one answer an update was sent, as `model`; a Refusal naming each field that does not fit.

    Update handlers take what was sent as it is (`*sent: object`): typed as the model, the SDK would decode
    it before any validator runs and reject one of the wrong shape as "Failed decoding arguments", or hand a
    null to the validator, where it fails as an AttributeError.
    """
    fields = ", ".join(model.model_fields)
    if len(sent) != 1:
        raise Refusal(f"send one answer, an object with the fields {fields}; {len(sent)} were sent")
    value = sent[0]
    if isinstance(value, model):
        return value
    if not isinstance(value, dict):
        raise Refusal(f"send the answer as an object with the fields {fields}, not {shown(value)}")
    try:
        return model.model_validate(value)
    except ValidationError as error:
        problems = error.errors()
        first = ".".join(str(p) for p in problems[0]["loc"]) or None
        raise Refusal(listed([_problem(e) for e in problems]), first) from None


# Program: participants
class OptIn(BaseModel):
    participant: EmailAddress
    consent_to_ground_rules: bool = False


class TrainingCompleted(BaseModel):
    participant: EmailAddress
    modules: list[str]


class Preferences(BaseModel):
    participant: EmailAddress
    ranked: list[EmailAddress]


class Withdrawal(BaseModel):
    participant: EmailAddress
    reason: str = ""


# Program: coordinators
class PairChoice(BaseModel):
    mentor: EmailAddress
    mentee: EmailAddress


class Approval(BaseModel):
    coordinator: EmailAddress
    pairs: list[PairChoice] | None = None  # None approves the proposal as it stands


class NewParticipant(BaseModel):
    coordinator: EmailAddress
    participant: Participant


class RematchRequest(BaseModel):
    coordinator: EmailAddress
    pairing_id: str
    reason: str = ""


class CoordinatorAction(BaseModel):
    coordinator: EmailAddress
    reason: str = ""


# Pairing
class MatchAnswer(BaseModel):
    participant: EmailAddress
    accept: bool
    reason: str = ""  # seen by the coordinator only


class PlanProposal(BaseModel):
    participant: EmailAddress
    goals: list[str]
    skills: list[str]
    meeting_every: Duration | None = None  # the program's cadence when omitted
    channel: str
    accept_ground_rules: bool = False


class Plan(BaseModel):
    """A pair's mentoring plan, as a proposal made it (or the program's default when none was agreed)."""

    goals: list[str]
    skills: list[str]
    meeting_every: Duration
    channel: str
    proposed_by: str


class PlanAgreement(BaseModel):
    participant: EmailAddress
    accept_ground_rules: bool = False


class CheckIn(BaseModel):
    participant: EmailAddress
    cycle: int
    met: bool
    progress: int
    recap: str = ""  # stays with the pair


class Pulse(BaseModel):
    participant: EmailAddress
    cycle: int
    safe_and_useful: int  # 1-5: is this pairing safe and useful for you?
    comment: str = ""


class MidpointAnswers(BaseModel):
    participant: EmailAddress
    satisfaction: int
    usefulness: int
    comment: str = ""


class SkillRating(BaseModel):
    skill: str
    before: int
    after: int


class CloseoutAnswers(BaseModel):
    participant: EmailAddress
    satisfaction: int
    would_recommend: bool
    skill_ratings: list[SkillRating]
    comment: str = ""
