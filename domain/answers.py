"""What people send: one small input per prompt kind or coordinator action.

Fields are loosely typed on purpose (a rating is any int): the workflows' update validators check the values
and refuse bad ones with a sentence a person understands, before anything reaches the history.
"""

from pydantic import BaseModel

from domain.durations import Duration
from domain.people import Participant


class Refusal(ValueError):
    """An answer or action that cannot be accepted; the message is shown to the person as it is."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise Refusal(message)


def check_rating(value: int, what: str) -> None:
    require(1 <= value <= 5, f"{what} must be a whole number from 1 to 5, not {value}")


# Program: participants
class OptIn(BaseModel):
    participant: str
    consent_to_ground_rules: bool = False


class TrainingCompleted(BaseModel):
    participant: str
    modules: list[str]


class Preferences(BaseModel):
    participant: str
    ranked: list[str]


class Withdrawal(BaseModel):
    participant: str
    reason: str = ""


# Program: coordinators
class PairChoice(BaseModel):
    mentor: str
    mentee: str


class Approval(BaseModel):
    coordinator: str
    pairs: list[PairChoice] | None = None  # None approves the proposal as it stands


class NewParticipant(BaseModel):
    coordinator: str
    participant: Participant


class RematchRequest(BaseModel):
    coordinator: str
    pairing_id: str
    reason: str = ""


class CoordinatorAction(BaseModel):
    coordinator: str
    reason: str = ""


# Pairing
class MatchAnswer(BaseModel):
    participant: str
    accept: bool
    reason: str = ""  # seen by the coordinator only


class PlanProposal(BaseModel):
    participant: str
    goals: list[str]
    skills: list[str]
    meeting_every: Duration | None = None  # the program's cadence when omitted
    channel: str
    accept_ground_rules: bool = False


class PlanAgreement(BaseModel):
    participant: str
    accept_ground_rules: bool = False


class CheckIn(BaseModel):
    participant: str
    cycle: int
    met: bool
    progress: int
    recap: str = ""  # stays with the pair


class Pulse(BaseModel):
    participant: str
    cycle: int
    safe_and_useful: int  # 1-5: is this pairing safe and useful for you?
    comment: str = ""


class MidpointAnswers(BaseModel):
    participant: str
    satisfaction: int
    usefulness: int
    comment: str = ""


class SkillRating(BaseModel):
    skill: str
    before: int
    after: int


class CloseoutAnswers(BaseModel):
    participant: str
    satisfaction: int
    would_recommend: bool
    skill_ratings: list[SkillRating]
    comment: str = ""
