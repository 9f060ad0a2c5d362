"""What a person reads right after an answer or action is taken (the sentence each update returns), and where
they stand in a program."""

from domain.views import MemberStatus

# Program: participants
WELCOME_TRAINING_NEXT = "Welcome aboard. Your training opens when recruitment closes."
WELCOME_MATCHING_NEXT = "Welcome aboard. Matching follows once recruitment closes."
TRAINING_COMPLETE = "Training complete. Matching follows when the training window closes."
PREFERENCES_TAKEN = "Thank you. Mutual choices are honoured first."
WITHDRAWN_FROM_PROGRAM = "You have withdrawn. Nothing you wrote is lost, and you are welcome back in a later run."


def training_recorded(still_to_do: list[str]) -> str:
    return f"Recorded. Still to do: {', '.join(still_to_do)}."


# Program: coordinators
def approved(pairs: int) -> str:
    return f"Approved {pairs} pairs; kick-off starts now."


def invited(name: str) -> str:
    return f"{name} is invited."


def recruitment_closed(opted_in: int) -> str:
    return f"Recruitment closed with {opted_in} opted in."


# A query in a run's first moments, while its members load from the record: asked again until they are in.
MEMBERS_LOADING = "The program is loading its members; ask again in a moment."
PAUSED = "Paused: no deadline moves closer until you resume."
RESUMED = "Resumed."
CANCELLING = "Cancelling: everyone will be told."


def nudged(people: int) -> str:
    return f"Reminded {people} {'person' if people == 1 else 'people'} the program is waiting for."


REMATCHING = "The pairing is being closed; both people go back to the pool for a new partner."

# Pairing
MATCH_DECLINED = "Thank you for saying so. The program will look for another partner for you."
BOTH_ACCEPTED = "You have both accepted. Next: agree your mentoring plan."
WAITING_FOR_PARTNER = "Thank you. We are waiting for your partner's answer."
PLAN_AGREED = "Plan agreed. Check-ins start now."
PULSE_TAKEN = "Thank you. Only your coordinator can act on this answer."
MIDPOINT_TAKEN = "Thank you for your mid-point answers."
CLOSEOUT_TAKEN = "Thank you. Your answers help the next program."
LEFT_PAIRING = "You have left the pairing. Nothing you wrote is lost, and thank you for taking part."


def plan_saved(partner_name: str) -> str:
    return f"Plan saved. {partner_name} is asked to agree it."


def checkin_logged(cycle: int) -> str:
    return f"Check-in {cycle} logged. Thank you."


# Where a participant stands, as My prompts says it
MEMBER_STATUS_WORDS = {
    MemberStatus.INVITED: "You are invited. Taking part is voluntary.",
    MemberStatus.OPTED_IN: "You are taking part. Your training opens when recruitment closes.",
    MemberStatus.TRAINED: "Your training is done. Matching follows when the training window closes.",
    MemberStatus.NOT_JOINED: "You did not join this run. You are welcome in a later one.",
    MemberStatus.EXCLUDED: "Your training was not finished in time, so you are not in this round of matching. "
    "Your progress is kept for the next run.",
    MemberStatus.UNMATCHED: "You have no partner at the moment. If someone becomes free, you will be considered first.",
    MemberStatus.PAIRED: "You are paired. Your pairing's plan and check-ins are below.",
    MemberStatus.INACTIVE: "Your match was closed because we did not hear from you in time. Tell your coordinator "
    "if you would still like to take part.",
    MemberStatus.WITHDRAWN: "You have withdrawn. Nothing you wrote is lost, and you are welcome back in a later run.",
    MemberStatus.COMPLETED: "You completed the program. Thank you for learning in both directions.",
}


# A query the worker refused because the step it loaded the run with carried an earlier task's time
# (workflows/task_time.py): asked again, it is answered from the whole history.
STALE_STEP_REFUSED = (
    "this live task carries the time of the task before it (a run loaded by a query); "
    "failed so that it is taken again from the whole history, with its own time"
)


def some_answers_refused(count: int) -> str:
    """A batch of answers refused as a whole because of some of them: the sender sends the others again."""
    return f"{count} of these answers cannot be taken; each says why, and the rest may be sent again"
