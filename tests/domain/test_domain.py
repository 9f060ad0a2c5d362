"""The pure rules, without Temporal: durations, the spec, the roster, the matcher, metrics and KPIs."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel, ValidationError

from domain.answers import Pulse
from domain.clock import ActiveClock
from domain.durations import Duration, PositiveDuration, format_duration, parse_duration
from domain.matching import MatchContext, MatchProposal, ProposedPair, check_edited_pairs, propose_matches
from domain.metrics import (
    FunnelCounts,
    KpiResult,
    PairingOutcome,
    PairingSummary,
    compute_metrics,
    describe_kpi,
    evaluate_goals,
    overall_outcome,
)
from domain.pair_record import CheckInEntry
from domain.pairing import Pairing, PairingInput, new_pairing_state
from domain.people import Participant, Role, RosterError, parse_roster
from domain.program import Program, ProgramInput, ProgramState, new_program_state
from domain.prompts import PromptBook, PromptKind
from domain.spec import BusinessGoal, Kpi, MatchingMode, SpecError, load_spec, spec_at_the_door
from settings import without_addresses
from tests.helpers.people import SPEC_TOML, pairing_terms, person, roster, spec
from tests.helpers.prompts import a_prompt

# Durations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("90s", timedelta(seconds=90)),
        (" 2W ", timedelta(weeks=2)),
        ("1w 2d", timedelta(days=9)),
    ],
)
def test_durations_read_the_way_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["2w", "4w2d", "1h30m", "1m30s", "1w2d3h4m5s", "0s"])
def test_a_duration_in_canonical_form_largest_units_first_formats_back_to_the_same_text(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_a_duration_is_formatted_with_the_largest_units_first() -> None:
    assert [format_duration(parse_duration(t)) for t in ("30d", "90s", "36h", "14d")] == [
        "4w2d",
        "1m30s",
        "1d12h",
        "2w",
    ]


@pytest.mark.parametrize("seconds", [1, 59, 60, 3_661, 86_400, 1_209_600, 1_234_567])
def test_formatting_then_parsing_gives_the_same_duration(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize("text", ["", "5", "2x", "1.5d", "-1d", "weekly", "d2"])
def test_a_bad_duration_is_refused_with_an_example_of_the_format(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration; write it like '30d', '2w', '1h30m' or '90s'"):
        parse_duration(text)


class _Window(BaseModel):
    any_length: Duration = timedelta(0)
    length: PositiveDuration = timedelta(days=1)


def test_a_spec_duration_must_be_text_and_longer_than_zero() -> None:
    assert _Window(any_length="0s").any_length == timedelta(0)
    with pytest.raises(ValidationError, match="a duration must be longer than zero"):
        _Window(length="0s")
    with pytest.raises(ValidationError, match="write a duration as text"):
        _Window(length=7)
    assert _Window(length="2w").model_dump(mode="json") == {"any_length": "0s", "length": "2w"}


# The active clock
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_the_clock_pauses_and_moves_every_deadline_by_the_pause() -> None:
    clock = ActiveClock.started(T0)
    clock.pause(T0 + timedelta(hours=2))
    assert clock.elapsed(T0 + timedelta(days=3)) == timedelta(hours=2)
    clock.resume(T0 + timedelta(days=3))
    assert clock.elapsed(T0 + timedelta(days=3, hours=1)) == timedelta(hours=3)
    assert clock.wall_time(timedelta(hours=5), T0 + timedelta(days=3, hours=1)) == T0 + timedelta(days=3, hours=3)


def test_once_a_timer_has_fired_the_clock_never_reads_before_its_deadline() -> None:
    """A workflow task that carries the time of the task before it must still see the deadline as reached."""
    clock = ActiveClock.started(T0)
    stale = T0 + timedelta(seconds=2)  # the time of an earlier task
    clock.reach(timedelta(seconds=60))  # the timer set for 60 s has fired
    assert clock.elapsed(stale) == timedelta(seconds=60)
    assert clock.elapsed(T0 + timedelta(seconds=61)) == timedelta(seconds=61)  # a true time reads as it is
    clock.reach(timedelta(seconds=30))  # an earlier timer firing late moves nothing back
    clock.pause(stale)
    assert clock.elapsed(T0 + timedelta(days=1)) == timedelta(seconds=60)


# The spec


def test_a_valid_spec_loads_with_its_durations_and_a_slug_from_its_name() -> None:
    loaded = load_spec(SPEC_TOML)

    assert loaded.program_id == "program-digital-fluency-2026"
    assert loaded.coordinators == ["coach@example.com"]
    assert loaded.durations.checkin_cadence == timedelta(weeks=2)
    assert loaded.durations.midpoint == timedelta(weeks=6)
    assert loaded.reminders.missed_checkins_alert == 2
    assert loaded.matching.mode == MatchingMode.HYBRID


@pytest.mark.parametrize(
    ("original", "replacement", "expected"),
    [
        (
            'checkin_cadence = "2w"',
            'checkin_cadence = "weekly"',
            "durations.checkin_cadence: 'weekly' is not a duration; write it like '30d'",
        ),
        (
            'checkin_cadence = "2w"',
            'checkin_cadence = "0s"',
            "durations.checkin_cadence: a duration must be longer than zero",
        ),
        ('recruitment = "2w"\n', "", "durations.recruitment: Field required"),
        (
            'program_length = "12w"',
            'program_length = "3w"',
            "durations: program_length must allow at least two check-ins",
        ),
        ("target = 0.7", "target = 70", "business_goals.0: the target of checkin_adherence is a share between 0 and 1"),
        ('kpi = "checkin_adherence"', 'kpi = "happiness"', "business_goals.0.kpi: Input should be"),
        ('["Coach@Example.com"]', '["coach"]', "coordinators: 'coach' is not an email address"),
        ("auto_approve = false", "auto_aprove = true", "matching.auto_aprove: Extra inputs are not permitted"),
        # A name becomes an email subject, a coordinator an email recipient: one line, one address.
        (
            'name = "Digital Fluency 2026"',
            'name = "Digital Fluency\\r\\nBcc: all@example.com"',
            "name: must be one line",
        ),
        ('"Taking part is voluntary"', '"Taking part\\nis voluntary"', "ground_rules.0: must be one line"),
        (
            '["Coach@Example.com"]',
            '["coach,boss@example.com"]',
            "coordinators.0: 'coach,boss@example.com' is not an address mail can be delivered to",
        ),
        (
            'nudge_before = "1d"',
            'nudge_before = "1d"\nmissed_checkin_alert = 3',
            "reminders.missed_checkin_alert: Extra inputs are not permitted",
        ),
    ],
)
def test_a_spec_error_names_the_field(original: str, replacement: str, expected: str) -> None:
    assert original in SPEC_TOML
    with pytest.raises(SpecError) as error:
        load_spec(SPEC_TOML.replace(original, replacement))

    assert str(error.value).startswith(expected)


def test_each_problem_of_a_spec_is_one_line_naming_its_field() -> None:
    broken = SPEC_TOML.replace('checkin_cadence = "2w"', 'checkin_cadence = "weekly"').replace('"3d"', '"soon"')

    with pytest.raises(SpecError) as error:
        load_spec(broken)

    lines = str(error.value).splitlines()
    assert [line.split(":")[0] for line in lines] == ["durations.answer_window", "durations.checkin_cadence"]


def test_a_spec_that_is_not_toml_is_refused() -> None:
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec("name = ")


# The roster

HEADER = "email,name,role,seniority,department,skills_offered,skills_wanted,interests,timezone,manager_email\n"
ZONES = frozenset({"UTC", "Europe/London"})


def test_a_roster_reads_its_lists_and_normalises_emails() -> None:
    text = HEADER + (
        "Ana.Lopez@Example.com,Ana Lopez,mentor,1,engineering,AI tools; video ,strategy,climbing,Europe/London,"
        "bo@example.com\n"
        "bo@example.com,Bo Chen,mentee,6,sales,strategy,ai tools,,,\n"
    )

    ana, bo = parse_roster(text, known_timezones=ZONES)

    assert (ana.email, ana.role, ana.skills_offered, ana.manager_email) == (
        "ana.lopez@example.com",
        Role.MENTOR,
        ["ai tools", "video"],
        "bo@example.com",
    )
    assert (bo.timezone, bo.interests, bo.manager_email) == ("UTC", [], None)


def test_every_bad_row_is_reported_with_its_line_number_and_nothing_is_returned() -> None:
    text = HEADER + (
        "a@example.com,Ann A,mentor,1,eng,,,,UTC,\n"  # line 2: fine
        "not-an-email,Bob B,mentee,5,eng,,,,UTC,\n"  # line 3
        "c@example.com,Cy C,boss,5,eng,,,,UTC,\n"  # line 4
        "A@example.com,Ann Again,mentee,6,eng,,,,UTC,\n"  # line 5
        "d@example.com,Di D,mentee,6,eng,,,,Mars/Base,\n"  # line 6
        "e@example.com,Ed E,mentee,6,eng,,,,UTC,f@example.com\n"  # lines 7 and 8 manage each other
        "f@example.com,Fi F,mentee,7,eng,,,,UTC,e@example.com\n"
        "g@example.com,Gus G,mentee,7\n"  # line 9
    )

    with pytest.raises(RosterError) as error:
        parse_roster(text, known_timezones=ZONES)

    problems = [(p.line, p.message) for p in error.value.problems]
    assert problems == [
        (3, "email: 'not-an-email' is not an email address"),
        (4, "role: 'boss' is not a role; use mentor, mentee or either"),
        (5, "email: a@example.com already appears on line 2"),
        (6, "timezone: unknown time zone 'Mars/Base'"),
        (7, "manager_email: the chain of managers loops back: e@example.com -> f@example.com -> e@example.com"),
        (8, "manager_email: the chain of managers loops back: f@example.com -> e@example.com -> f@example.com"),
        (9, "expected 10 columns, found 4"),
    ]
    assert str(error.value).splitlines()[0] == "line 3: email: 'not-an-email' is not an email address"


def test_a_roster_with_the_wrong_header_or_no_one_in_it_is_refused() -> None:
    with pytest.raises(RosterError, match="line 1: the header must be email,name,role"):
        parse_roster("email,name\na@example.com,Ann\n")
    with pytest.raises(RosterError, match="line 1: the roster has no participants"):
        parse_roster(HEADER)


def test_someone_cannot_be_their_own_manager() -> None:
    with pytest.raises(RosterError, match="line 2: manager_email: a person cannot be their own manager"):
        parse_roster(HEADER + "a@example.com,Ann A,mentor,1,eng,,,,UTC,a@example.com\n")


# The matcher

SKILLS = ["ai tools", "social media", "strategy", "budgeting", "video", "negotiation"]


def random_people(seed: int, size: int = 16) -> list[Participant]:
    rng = random.Random(seed)
    emails = [f"p{i:02d}@example.com" for i in range(size)]
    return [
        Participant(
            email=email,
            name=f"P {i}",
            role=rng.choice(list(Role)),
            seniority=rng.randint(0, 8),
            department=rng.choice(["eng", "sales", "finance"]),
            skills_offered=rng.sample(SKILLS, 2),
            skills_wanted=rng.sample(SKILLS, 2),
            interests=rng.sample(["music", "hiking", "chess"], 1),
            manager_email=rng.choice(emails[:i]) if i and rng.random() < 0.5 else None,  # earlier rows: no loops
        )
        for i, email in enumerate(emails)
    ]


def managers_above(email: str, people: dict[str, Participant]) -> set[str]:
    above: set[str] = set()
    current = people[email].manager_email
    while current is not None and current in people:
        above.add(current)
        current = people[current].manager_email
    return above


@pytest.mark.parametrize("mode", [MatchingMode.ALGORITHM, MatchingMode.HYBRID])
@pytest.mark.parametrize("seed", range(20))
def test_the_matcher_never_pairs_a_more_senior_mentor_nor_anyone_with_their_manager(
    seed: int, mode: MatchingMode
) -> None:
    people = random_people(seed)
    by_email = {p.email: p for p in people}
    rng = random.Random(seed)
    choices = {p.email: rng.sample([q.email for q in people if q is not p], 3) for p in people}
    context = MatchContext(managers={p.email: p.manager_email for p in people if p.manager_email}, preferences=choices)

    proposal = propose_matches(people, mode, context)

    assert proposal.pairs, "a roster this size always has some pair that fits"
    for pair in proposal.pairs:
        mentor, mentee = by_email[pair.mentor], by_email[pair.mentee]
        assert mentor.seniority < mentee.seniority
        assert mentor.role != Role.MENTEE and mentee.role != Role.MENTOR
        assert mentee.email not in managers_above(mentor.email, by_email)
        assert mentor.email not in managers_above(mentee.email, by_email)
    placed = [e for p in proposal.pairs for e in (p.mentor, p.mentee)] + [u.email for u in proposal.unmatched]
    assert sorted(placed) == sorted(by_email)


def test_nobody_is_paired_with_a_manager_above_them_even_when_the_skills_fit_best() -> None:
    junior = person("junior@example.com", Role.MENTOR, 1, manager="lead@example.com", skills_offered=["ai tools"])
    lead = person("lead@example.com", Role.EITHER, 4, manager="director@example.com")
    director = person("director@example.com", Role.MENTEE, 8, skills_wanted=["ai tools"])
    other = person("other@example.com", Role.MENTEE, 7)
    people = [junior, lead, director, other]
    context = MatchContext(managers={p.email: p.manager_email for p in people if p.manager_email})

    proposal = propose_matches(people, MatchingMode.ALGORITHM, context)

    pairs = {(p.mentor, p.mentee) for p in proposal.pairs}
    assert ("junior@example.com", "director@example.com") not in pairs  # the director manages junior's manager
    assert ("junior@example.com", "lead@example.com") not in pairs
    assert ("junior@example.com", "other@example.com") in pairs


def test_mutual_choices_are_honoured_in_self_select_mode_and_one_sided_ones_are_not() -> None:
    mentors = [person(f"m{i}@example.com", Role.MENTOR, 1, skills_offered=["ai tools"]) for i in range(3)]
    mentees = [person(f"s{i}@example.com", Role.MENTEE, 6, skills_wanted=["ai tools"]) for i in range(3)]
    choices = {
        "m0@example.com": ["s2@example.com", "s0@example.com"],
        "s2@example.com": ["m1@example.com", "m0@example.com"],
        "m1@example.com": ["s1@example.com"],  # s1 chose nobody
        "s0@example.com": ["m2@example.com"],  # m2 chose nobody
    }

    proposal = propose_matches(mentors + mentees, MatchingMode.SELF_SELECT, MatchContext(preferences=choices))

    assert [(p.mentor, p.mentee) for p in proposal.pairs] == [("m0@example.com", "s2@example.com")]
    assert proposal.pairs[0].reasons[0] == "you chose each other"
    assert {u.email for u in proposal.unmatched} == {
        "m1@example.com",
        "m2@example.com",
        "s0@example.com",
        "s1@example.com",
    }
    reasons = {u.email: u.reason for u in proposal.unmatched}
    assert (
        reasons["m1@example.com"]
        == reasons["s0@example.com"]
        == ("none of the people you named also named you and can be paired with you under the program's rules")
    )
    assert (
        reasons["m2@example.com"]
        == reasons["s1@example.com"]
        == ("you did not name anyone you would like to work with")
    )


def test_a_mutual_choice_that_breaks_a_hard_constraint_is_not_honoured() -> None:
    senior_mentor = person("m@example.com", Role.MENTOR, 7)
    junior_mentee = person("s@example.com", Role.MENTEE, 2)
    choices = {"m@example.com": ["s@example.com"], "s@example.com": ["m@example.com"]}

    proposal = propose_matches(
        [senior_mentor, junior_mentee], MatchingMode.SELF_SELECT, MatchContext(preferences=choices)
    )

    assert proposal.pairs == []


def test_people_paired_before_in_the_program_are_not_proposed_again() -> None:
    mentor, mentee = person("m@example.com", Role.MENTOR, 1), person("s@example.com", Role.MENTEE, 6)

    proposal = propose_matches(
        [mentor, mentee], MatchingMode.ALGORITHM, MatchContext(excluded_pairs=[("s@example.com", "m@example.com")])
    )

    assert proposal.pairs == []
    assert "nobody in the pool could be your more senior mentee" in proposal.unmatched[0].reason


def test_edited_pairs_are_checked_against_the_hard_constraints() -> None:
    people = {
        p.email: p
        for p in [
            person("m@example.com", Role.MENTOR, 1),
            person("s@example.com", Role.MENTEE, 6),
            person("t@example.com", Role.EITHER, 3),
        ]
    }

    problems = check_edited_pairs(
        [("s@example.com", "t@example.com"), ("t@example.com", "m@example.com"), ("x@example.com", "s@example.com")],
        people,
        MatchContext(),
    )

    assert problems == [
        "s@example.com cannot mentor t@example.com: their roles do not fit",
        "t@example.com appears in more than one pair",
        "t@example.com cannot mentor m@example.com: their roles do not fit",
        "x@example.com is not available for matching",
        "s@example.com appears in more than one pair",
    ]
    assert check_edited_pairs([("m@example.com", "t@example.com")], people, MatchContext()) == []


# Withdrawal from a proposal (pure part of the program's rules)


def test_withdrawing_from_a_proposed_pair_leaves_the_partner_unmatched_with_the_reason() -> None:
    program = Program(spec(), ProgramState())
    program.state.proposal = MatchProposal(
        pairs=[ProposedPair(mentor="m@example.com", mentee="s@example.com", score=1.0, reasons=[])]
    )

    program.drop_from_proposal("m@example.com")

    assert program.state.proposal.pairs == []
    assert [(u.email, u.reason) for u in program.state.proposal.unmatched] == [
        ("s@example.com", "your proposed partner withdrew")
    ]


def test_someone_who_withdraws_leaves_the_rematch_pool() -> None:
    people = [person("m@example.com", Role.MENTOR, 1), person("s@example.com", Role.MENTEE, 6)]
    program = Program(spec(), new_program_state(ProgramInput(spec=spec(), roster=people)))
    program.return_to_pool("m@example.com", "your previous pairing ended")

    program.leave_pool("m@example.com")

    assert program.state.rematch_pool == []


# Metrics and KPIs


def finished(n: int, **fields: object) -> PairingSummary:
    return PairingSummary(
        pairing_id=f"p{n}",
        mentor=f"m{n}@example.com",
        mentee=f"s{n}@example.com",
        outcome=PairingOutcome.COMPLETED,
        **fields,
    )


def test_averages_are_hidden_until_three_people_answered() -> None:
    two = [finished(i, progress_ratings=[4], satisfaction=[5], mentee_skill_gains=[2]) for i in range(2)]
    three = [*two, finished(2, progress_ratings=[1], satisfaction=[2], mentee_skill_gains=[-1])]

    few, enough = compute_metrics(FunnelCounts(), two), compute_metrics(FunnelCounts(), three)

    assert (few.average_progress, few.satisfaction, few.skill_gain) == (None, None, None)
    assert (enough.average_progress, enough.satisfaction, enough.skill_gain) == (3.0, 4.0, 1.0)


def test_rates_come_from_the_funnel_and_the_pairings_outcomes() -> None:
    funnel = FunnelCounts(invited=10, opted_in=8, trained=6, matched=4)
    pairings = [
        finished(0, cycles_run=4, cycles_met=3),
        finished(1, cycles_run=4, cycles_met=1).model_copy(update={"outcome": PairingOutcome.WITHDRAWN}),
        finished(2).model_copy(update={"outcome": PairingOutcome.DECLINED}),  # never started: not counted
    ]

    metrics = compute_metrics(funnel, pairings)

    assert (metrics.enrolment_rate, metrics.training_completion, metrics.match_rate) == (0.8, 0.75, 0.667)
    assert (metrics.pairings_started, metrics.pairings_completed, metrics.completion_rate) == (2, 1, 0.5)
    assert (metrics.checkin_adherence, metrics.retention) == (0.5, 0.75)


def test_a_goal_is_met_at_its_target_and_not_judged_without_enough_data() -> None:
    goals = [
        BusinessGoal(goal="Pairs keep meeting", kpi=Kpi.CHECKIN_ADHERENCE, target=0.5),
        BusinessGoal(goal="Most pairs finish", kpi=Kpi.COMPLETION_RATE, target=0.9),
        BusinessGoal(goal="People enjoy it", kpi=Kpi.SATISFACTION, target=4),
    ]
    metrics = compute_metrics(
        FunnelCounts(),
        [finished(0, cycles_run=2, cycles_met=1), finished(1).model_copy(update={"outcome": PairingOutcome.WITHDRAWN})],
    )

    results = evaluate_goals(goals, metrics)

    assert [(r.value, r.met) for r in results] == [(0.5, True), (0.5, False), (None, None)]
    assert overall_outcome(results) == "1 of 3 business goals met, 1 without enough data to judge"
    assert describe_kpi(results[2]) == "People enjoy it: satisfaction = too few to report (target 4) - not judged"
    assert describe_kpi(results[0]) == "Pairs keep meeting: checkin_adherence = 0.5 (target 0.5) - met"


@pytest.mark.parametrize(
    ("met", "expected"),
    [
        ([True, True], "all business goals met"),
        ([False, False], "no business goal met"),
        ([True, False], "1 of 2 business goals met"),
    ],
)
def test_the_overall_outcome_summarises_the_goals(met: list[bool], expected: str) -> None:
    results = [KpiResult(goal="g", kpi=Kpi.RETENTION, target=0.5, value=0.5, met=m) for m in met]

    assert overall_outcome(results) == expected


def test_a_prompt_asked_again_gets_a_notice_key_of_its_own_even_after_it_closed() -> None:
    book = PromptBook()

    def asking(participant: str, prompt_id: str) -> str:
        prompt = a_prompt(
            PromptKind.APPROVE_MATCHES,
            participant,
            prompt_id,
            question="Approve?",
            workflow_id="program-x",
            update="approve_matches",
            due=timedelta(days=2),
        )
        book.open(prompt)
        return prompt.notice_key

    assert asking("coach@example.com", "approve-matches") == "approve-matches"  # as before: old keys stand
    book.expire(timedelta(days=2))
    assert asking("coach@example.com", "approve-matches") == "approve-matches/again-2"
    assert asking("coach@example.com", "approve-matches") == "approve-matches/again-3"
    assert asking("lead@example.com", "approve-matches") == "approve-matches"  # counted per person
    restored = PromptBook.model_validate_json(book.model_dump_json())  # as continue-as-new carries it
    assert restored.times_asked == book.times_asked


def test_no_email_address_reaches_a_log_line() -> None:
    event = {
        "event": "email not sent; will retry",
        "key": "program-x/check-in-2/junior00@example.com",
        "error": "SMTPRecipientsRefused: {'Ana.Lopez+work@flipside.example': "
        "(550, b'5.1.1 <Ana.Lopez+work@flipside.example> unknown')}",
        "attempt": 3,
    }
    cleaned = without_addresses(None, "warning", dict(event))
    assert "@" not in cleaned["key"] + cleaned["error"] and cleaned["attempt"] == 3
    assert cleaned["key"] == "program-x/check-in-2/<address>"
    assert "unknown" in cleaned["error"] and "Ana.Lopez" not in cleaned["error"]


def test_a_spec_from_history_decodes_whatever_the_door_says_today() -> None:
    """A running program decodes its spec in every replay and continue-as-new. A key a newer worker added (a
    rolling deploy) and a rule tightened since the start must not stop it: both are refused at the door only."""
    started = load_spec(SPEC_TOML).model_dump(mode="json")
    started["matching"]["weights"]["newer_weight"] = 2.0  # written by a newer worker
    started["added_later"] = {"anything": True}
    started["durations"]["program_length"] = started["durations"]["checkin_cadence"]  # one check-in: refused today
    started["business_goals"][0]["target"] = 70  # a share out of range: refused today

    decoded = ProgramInput.model_validate({"spec": started, "roster": []}).spec

    assert decoded.durations.program_length == decoded.durations.checkin_cadence
    assert decoded.business_goals[0].target == 70 and decoded.program_id == "program-digital-fluency-2026"
    with pytest.raises(SpecError) as refused:
        spec_at_the_door(started)
    assert str(refused.value).splitlines() == [
        "matching.weights.newer_weight: Extra inputs are not permitted",
        "added_later: Extra inputs are not permitted",
        "business_goals.0: the target of checkin_adherence is a share between 0 and 1, got 70.0",
        "durations: program_length must allow at least two check-ins (twice checkin_cadence)",
    ]


def test_a_low_pulse_alerts_once_per_streak_and_a_good_one_ends_the_streak() -> None:
    mentor, mentee = roster(1)
    inp = PairingInput(pairing_id="pairing-x", mentor=mentor, mentee=mentee, terms=pairing_terms("program-x"))
    rules = Pairing(inp, new_pairing_state(inp))
    answers = [2, 1, 2, 4, 2, 5, 5, 1]  # low_answer is 2: at or below it is low

    alerts = [
        rules.apply_pulse(Pulse(participant=mentor.email, cycle=n, safe_and_useful=a)) for n, a in enumerate(answers)
    ]

    assert alerts == [True, False, False, False, True, False, False, True]
    before_streaks = Pairing(inp, new_pairing_state(inp))  # as pairings started before this rule replay
    every = [
        before_streaks.apply_pulse(Pulse(participant=mentor.email, cycle=1, safe_and_useful=a), False) for a in answers
    ]
    assert every == [a <= 2 for a in answers]


def test_progress_rated_low_while_meeting_flags_the_pairing_at_risk_once_per_streak() -> None:
    """missed_alert_after is 2: two cycles in a row of low progress from a pair that met raise one alert."""
    mentor, mentee = roster(1)
    inp = PairingInput(pairing_id="pairing-x", mentor=mentor, mentee=mentee, terms=pairing_terms("program-x"))
    rules = Pairing(inp, new_pairing_state(inp))
    # Per cycle: did they meet, and the two progress ratings. Low is 2 or less.
    cycles = [(True, 2, 1), (True, 2, 2), (True, 1, 1), (False, 2, 2), (True, 4, 2), (True, 2, 2), (True, 1, 2)]
    flags = []
    for cycle, (met, mine, theirs) in enumerate(cycles, start=1):
        rules.state.cycle = cycle
        for who, progress in ((mentor.email, mine), (mentee.email, theirs)):
            rules.state.checkins.append(
                CheckInEntry(cycle=cycle, participant=who, met=met, progress=progress, recap="")
            )
        flags.append(rules.apply_progress())

    assert flags == [False, True, False, False, False, False, True]
    assert rules.state.summary.at_risk
