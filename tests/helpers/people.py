"""Programs and rosters for tests: short, readable, and varied enough to exercise matching."""

from datetime import timedelta
from typing import Any

from domain.pairing import PairingTerms
from domain.people import Participant, Role
from domain.spec import ProgramSpec

COORDINATOR = "coach@example.com"
# The first people of roster(): juniors (newer colleagues) mentor, seniors are mentored; junior00 with senior00.
J0, S0, J1, S1 = "junior00@example.com", "senior00@example.com", "junior01@example.com", "senior01@example.com"


def spec(**overrides: Any) -> ProgramSpec:
    data: dict[str, Any] = {
        "name": "Digital Fluency 2026",
        "purpose": "Newer colleagues teach senior leaders digital practice, and learn how the business runs.",
        "coordinators": [COORDINATOR],
        "business_goals": [
            {"goal": "Pairs keep meeting", "kpi": "checkin_adherence", "target": 0.6},
            {"goal": "Senior leaders gain digital skills", "kpi": "skill_gain", "target": 1.0},
        ],
        "ground_rules": ["Taking part is voluntary", "What we say stays between us", "Stay positive"],
        "training_modules": ["reverse-mentoring-101", "giving-candid-feedback"],
        "durations": {
            "recruitment": "2d",
            "training": "2d",
            "answer_window": "2d",
            "checkin_cadence": "1w",
            "program_length": "8w",
        },
        "reminders": {"nudge_before": "1d", "missed_checkins_alert": 2},
        "matching": {"mode": "algorithm", "auto_approve": False},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return ProgramSpec.model_validate(data)


# A spec file as a coordinator writes one: hybrid matching, one goal, an address in capitals to be normalised.
SPEC_TOML = """
name = "Digital Fluency 2026"
purpose = "Newer colleagues teach senior leaders digital practice."
coordinators = ["Coach@Example.com"]
ground_rules = ["Taking part is voluntary", "What we say stays between us"]
training_modules = ["reverse-mentoring-101"]

[[business_goals]]
goal = "Pairs keep meeting"
kpi = "checkin_adherence"
target = 0.7

[durations]
recruitment = "2w"
training = "1w"
answer_window = "3d"
checkin_cadence = "2w"
program_length = "12w"

[reminders]
nudge_before = "1d"

[matching]
mode = "hybrid"
auto_approve = false
"""


DEPARTMENTS = ["engineering", "sales", "finance", "people", "operations"]
JUNIOR_SKILLS = ["social media", "ai tools", "data dashboards", "collaboration apps", "video editing"]


# Someone a coordinator adds while recruitment is open.
NEWCOMER = Participant(
    email="newcomer@example.com",
    name="New Comer",
    role=Role.MENTOR,
    seniority=1,
    department="sales",
    skills_offered=["ai tools"],
)


def roster(pairs: int = 10) -> list[Participant]:
    """`pairs` newer colleagues (mentors) and as many senior ones (mentees), with overlapping skills."""
    people = []
    for i in range(pairs):
        skill = JUNIOR_SKILLS[i % len(JUNIOR_SKILLS)]
        people.append(
            Participant(
                email=f"junior{i:02d}@example.com",
                name=f"Jun {i:02d}",
                role=Role.MENTOR,
                seniority=1 + i % 2,
                department=DEPARTMENTS[i % 5],
                skills_offered=[skill, "remote work"],
                skills_wanted=["strategy"],
                interests=["music" if i % 2 else "hiking"],
                timezone="Europe/London",
            )
        )
        people.append(
            Participant(
                email=f"senior{i:02d}@example.com",
                name=f"Sen {i:02d}",
                role=Role.MENTEE,
                seniority=6 + i % 3,
                department=DEPARTMENTS[(i + 1) % 5],
                skills_offered=["strategy"],
                skills_wanted=[skill],
                interests=["hiking" if i % 2 else "music"],
                timezone="America/New_York",
            )
        )
    return people


def person(email: str, role: Role, seniority: int, manager: str | None = None, **more: Any) -> Participant:
    """One participant, named after their address."""
    return Participant(
        email=email, name=email.split("@")[0].title(), role=role, seniority=seniority, manager_email=manager, **more
    )


def pairing_terms(program_id: str) -> PairingTerms:
    """Terms of a pairing that waits an hour for its match to be accepted: it has nothing of its own to do."""
    return PairingTerms(
        program_id=program_id,
        coordinators=[COORDINATOR],
        ground_rules=["Taking part is voluntary"],
        answer_window=timedelta(hours=1),
        nudge_before=timedelta(minutes=5),
        default_cadence=timedelta(hours=1),
        cadence_min=timedelta(minutes=30),
        cadence_max=timedelta(hours=2),
        missed_alert_after=2,
        low_answer=2,
        mentoring_length=timedelta(hours=10),
        midpoint_after=timedelta(0),
    )
