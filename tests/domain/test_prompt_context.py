"""Prompts carry typed context, refusals name their field, and the portal places both without reading words.

Pure: the domain's rules over a pairing's and a program's state, and the portal's form mapping; no server.
"""

import pytest

from domain import questions
from domain.answers import CloseoutAnswers, PlanProposal, Refusal, SkillRating
from domain.notices import Notice, NoticeKind, email_text
from domain.pairing import MENTOR_SKILLS, Pairing, PairingInput, new_pairing_state
from domain.program import MAX_PREFERENCES, Program, ProgramInput, new_program_state
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import Refused, build_answer
from portal.forms import PromptCard, form_field, place_refusal
from tests.helpers.people import pairing_terms, roster, spec
from tests.helpers.prompts import a_prompt

MENTOR, MENTEE = roster(1)


def _pairing() -> Pairing:
    terms = pairing_terms("program-x").model_copy(update={"match_reasons": ["shares strategy", "different teams"]})
    inp = PairingInput(pairing_id="pairing-x", mentor=MENTOR, mentee=MENTEE, terms=terms)
    return Pairing(inp, new_pairing_state(inp))


def test_a_match_introduces_the_partner_with_the_reasons_as_data() -> None:
    pairing = _pairing()
    to_mentee = pairing.prompt_context(a_prompt(PromptKind.ACCEPT_MATCH, MENTEE.email)).partner
    to_mentor = pairing.prompt_context(a_prompt(PromptKind.ACCEPT_MATCH, MENTOR.email)).partner
    assert to_mentee is not None and to_mentor is not None
    assert (to_mentee.name, to_mentee.is_mentor) == (MENTOR.name, True)
    assert (to_mentor.name, to_mentor.is_mentor) == (MENTEE.name, False)
    assert to_mentee.reasons == ["shares strategy", "different teams"]
    # The question no longer carries the reasons: the notice says them below it, the portal lists them.
    assert "Why you two" not in questions.accept_match(to_mentee)
    assert questions.why_you_two(to_mentee.reasons) == "Why you two: shares strategy; different teams"


def test_a_check_in_names_its_cycle_and_an_answer_takes_it_from_there() -> None:
    pairing = _pairing()
    pairing.state.cycle = 3
    context = pairing.prompt_context(a_prompt(PromptKind.CHECK_IN, MENTEE.email, "check-in-3"))
    assert context.cycle == 3
    pending = PendingPrompt(
        id="check-in-3",
        kind=PromptKind.CHECK_IN,
        participant=MENTEE.email,
        question="?",
        workflow_id="pairing-x",
        update="log_checkin",
        due_at=None,
        paused=True,
        context=context,
    )
    answer = build_answer(pending, MENTEE.email, {"met": True, "progress": 4})
    assert answer.model_dump()["cycle"] == 3
    assert PromptCard(prompt=pending).title == "Check-in 3"


def test_the_plan_prompts_carry_ground_rules_cadences_and_the_plan() -> None:
    pairing = _pairing()
    propose = pairing.prompt_context(a_prompt(PromptKind.PROPOSE_PLAN, MENTEE.email))
    terms = pairing.inp.terms
    assert propose.ground_rules == terms.ground_rules
    assert terms.default_cadence in propose.cadences
    assert all(terms.cadence_min <= c <= terms.cadence_max for c in propose.cadences)
    proposal = PlanProposal(
        participant=MENTEE.email, goals=["g"], skills=["AI tools"], channel="video", accept_ground_rules=True
    )
    pairing.state.prompts.open(a_prompt(PromptKind.PROPOSE_PLAN, MENTEE.email, "plan"))
    pairing.apply_plan(proposal)
    agree = pairing.prompt_context(a_prompt(PromptKind.AGREE_PLAN, MENTOR.email))
    assert agree.plan is not None and agree.plan.skills == ["ai tools"]
    assert agree.proposed_by == MENTEE.name


def test_the_close_out_lists_the_skills_each_side_rates() -> None:
    pairing = _pairing()
    pairing.apply_default_plan()
    mentor = pairing.prompt_context(a_prompt(PromptKind.CLOSEOUT_SURVEY, MENTOR.email))
    mentee = pairing.prompt_context(a_prompt(PromptKind.CLOSEOUT_SURVEY, MENTEE.email))
    assert mentor.skills_to_rate == MENTOR_SKILLS
    assert pairing.state.plan is not None and mentee.skills_to_rate == pairing.state.plan.skills


def test_the_program_prompts_carry_ground_rules_modules_done_and_choices() -> None:
    program_spec = spec()
    people = roster(1)
    program = Program(program_spec, new_program_state(ProgramInput(spec=program_spec, roster=people)))
    email = people[0].email
    program.state.members[email].modules_done = program_spec.training_modules[:1]
    assert program.prompt_context(a_prompt(PromptKind.OPT_IN, email)).ground_rules == program_spec.ground_rules
    training = program.prompt_context(a_prompt(PromptKind.TRAINING, email))
    assert (training.modules, training.modules_done) == (
        program_spec.training_modules,
        program_spec.training_modules[:1],
    )
    assert program.prompt_context(a_prompt(PromptKind.PREFERENCES, email)).max_choices == MAX_PREFERENCES


def test_a_refusal_names_the_field_it_is_about() -> None:
    pairing = _pairing()
    pairing.apply_default_plan()
    pairing.state.prompts.open(a_prompt(PromptKind.CLOSEOUT_SURVEY, MENTOR.email, "closeout-survey"))
    ratings = [SkillRating(skill=s, before=3, after=9 if i == 1 else 4) for i, s in enumerate(MENTOR_SKILLS)]
    answers = CloseoutAnswers(participant=MENTOR.email, satisfaction=4, would_recommend=True, skill_ratings=ratings)
    with pytest.raises(Refusal) as refused:
        pairing.check_closeout(answers)
    assert refused.value.field == "skill_ratings.1.after"


@pytest.mark.parametrize(
    ("kind", "field", "form"),
    [
        (PromptKind.CLOSEOUT_SURVEY, "skill_ratings.1.after", "after_1"),
        (PromptKind.PREFERENCES, "ranked", "choices"),
        (PromptKind.CHECK_IN, "progress", "progress"),
        (PromptKind.CHECK_IN, "participant", None),  # no such field on the form: said above it
        (PromptKind.OPT_IN, None, None),
    ],
)
def test_the_portal_places_a_refusal_by_its_field(kind: PromptKind, field: str | None, form: str | None) -> None:
    assert form_field(kind, field) == form
    card = PromptCard(
        prompt=PendingPrompt(
            id="p",
            kind=kind,
            participant="a@example.com",
            question="?",
            workflow_id="w",
            update="u",
            due_at=None,
            paused=False,
        )
    )
    place_refusal(card, Refused("the 'after' rating must be 1 to 5", field))
    assert card.errors == ({form: "The 'after' rating must be 1 to 5"} if form else {})
    assert card.form_error == (None if form else "The 'after' rating must be 1 to 5")


def test_an_email_frames_a_notice_with_the_domain_s_words() -> None:
    notice = Notice(
        key="k",
        to="a@example.com",
        kind=NoticeKind.PROMPT,
        subject="Line one\nline two",
        body="A\n\nB",
        program_id="program-x",
    )
    words = email_text(notice, "https://portal.example/s")
    assert words.subject == "Line one"
    assert words.paragraphs == ["A", "B"]
    assert words.button == "Answer in Flipside"
    assert "Answer in Flipside: https://portal.example/s" in words.plain
