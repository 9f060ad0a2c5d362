"""The answer forms: what each prompt kind asks, how its form fields become an answer, and where errors go.

Field names are part of the portal's contract (see portal/app.py); ids in the page are prefixed per prompt so
several forms can share a page. Who answers, and for which cycle, never comes from the form: the portal takes
them from the session and the prompt (flipside_client.build_answer). What a form shows beyond the question (the
partner, the modules, the plan, the skills to rate) comes from the prompt's typed context, never its words.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from domain.answers import Plan
from domain.durations import cadence_label, format_duration
from domain.program import MAX_PREFERENCES
from domain.prompts import PendingPrompt, PromptContext, PromptKind
from flipside_client import Refused

RATINGS = ["1", "2", "3", "4", "5"]
FormValues = Mapping[str, list[str]]

TITLES = {
    PromptKind.OPT_IN: "Join the program",
    PromptKind.TRAINING: "Training",
    PromptKind.PREFERENCES: "Whom would you like to work with?",
    PromptKind.APPROVE_MATCHES: "Approve the proposed pairs",
    PromptKind.ACCEPT_MATCH: "Your match",
    PromptKind.PROPOSE_PLAN: "Propose your mentoring plan",
    PromptKind.AGREE_PLAN: "Agree your mentoring plan",
    PromptKind.CHECK_IN: "Check-in",
    PromptKind.PULSE: "Just for you: a private check",
    PromptKind.MIDPOINT_SURVEY: "Mid-point survey",
    PromptKind.CLOSEOUT_SURVEY: "Close-out survey",
}


# The fields each form has, by the answer's field names where they differ; a refusal about any other field is
# shown above the form.
FORM_FIELDS: dict[PromptKind, set[str]] = {
    PromptKind.OPT_IN: {"consent_to_ground_rules"},
    PromptKind.TRAINING: {"modules"},
    PromptKind.PREFERENCES: {"choices"},
    PromptKind.ACCEPT_MATCH: {"accept", "reason"},
    PromptKind.PROPOSE_PLAN: {"goals", "skills", "meeting_every", "channel", "accept_ground_rules"},
    PromptKind.AGREE_PLAN: {"accept_ground_rules"},
    PromptKind.CHECK_IN: {"met", "progress", "recap"},
    PromptKind.PULSE: {"safe_and_useful", "comment"},
    PromptKind.MIDPOINT_SURVEY: {"satisfaction", "usefulness", "comment"},
    PromptKind.CLOSEOUT_SURVEY: {"satisfaction", "would_recommend", "skill_ratings", "comment"},
}


@dataclass
class PromptCard:
    """One prompt as a page shows it: the question, what the form needs (from the prompt's typed context), what
    was typed and what went wrong."""

    prompt: PendingPrompt
    values: FormValues = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str | None = None

    @property
    def context(self) -> PromptContext:
        return self.prompt.context

    @property
    def kind(self) -> str:
        return self.prompt.kind.value

    @property
    def title(self) -> str:
        cycle = self.context.cycle
        title = TITLES[self.prompt.kind]
        return f"{title} {cycle}" if self.prompt.kind == PromptKind.CHECK_IN and cycle else title

    @property
    def question(self) -> str:
        return self.prompt.question

    @property
    def rules(self) -> list[str]:
        return self.context.ground_rules

    @property
    def modules(self) -> list[str]:
        return self.context.modules

    @property
    def modules_done(self) -> list[str]:
        return self.context.modules_done

    @property
    def partner(self) -> str | None:
        return self.context.partner.name if self.context.partner else None

    @property
    def reasons(self) -> list[str]:
        return self.context.partner.reasons if self.context.partner else []

    @property
    def plan(self) -> Plan | None:
        return self.context.plan

    @property
    def skills(self) -> list[str]:
        """The skills to rate before and after at close-out."""
        return self.context.skills_to_rate

    @property
    def cadences(self) -> list[tuple[str, str]]:
        """(value, label) for each cadence a plan may choose."""
        return [(format_duration(c), cadence_label(c)) for c in self.context.cadences]

    @property
    def default_cadence(self) -> str:
        default = self.context.default_cadence
        return cadence_label(default) if default else ""

    @property
    def max_choices(self) -> int:
        return self.context.max_choices or MAX_PREFERENCES

    @property
    def key(self) -> str:
        """The prompt's prefix for ids in the page: letters, digits and dashes only."""
        text = f"{self.prompt.workflow_id}-{self.prompt.id}".lower()
        return "".join(c if c.isascii() and (c.isalnum() or c == "-") else "-" for c in text)

    @property
    def url(self) -> str:
        return prompt_url(self.prompt)

    def field_id(self, name: str) -> str:
        return f"{self.key}-{name}"

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def value(self, name: str, default: str = "") -> str:
        found = self.values.get(name)
        return found[0] if found else default

    def values_of(self, name: str) -> list[str]:
        return list(self.values.get(name, []))

    def checked(self, name: str, value: str = "yes") -> bool:
        return value in self.values.get(name, [])

    @property
    def has_errors(self) -> bool:
        return bool(self.errors or self.form_error)


def prompt_url(prompt: PendingPrompt) -> str:
    return f"/prompts/{prompt.workflow_id}/{prompt.id}"


# Each answer form carries the update id its answer is sent with, made when the form is shown: a form sent twice
# (a double click, a retry after a timeout) is one answer, taken once (flipside_client.new_answer_id).
ANSWER_ID_FIELD = "answer_id"


def sent_as(values: dict[str, list[str]]) -> str | None:
    """The answer id a form was shown with (taken out of the values), or None if it carries no well-formed one."""
    found = values.pop(ANSWER_ID_FIELD, [])
    return found[0] if len(found) == 1 and re.fullmatch(r"[0-9a-f]{32}", found[0]) else None


def form_values(items: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """A submitted form as lists of strings per name (file uploads are ignored: no form takes one)."""
    values: dict[str, list[str]] = {}
    for name, value in items:
        if isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values


# From a form to the fields of an answer
def _one(values: FormValues, name: str) -> str | None:
    found = values.get(name)
    return found[0] if found else None


def _present(values: FormValues, *names: str) -> dict[str, str]:
    """Fields that were answered; one left out reaches pydantic as missing, which says so next to it."""
    return {name: value for name in names if (value := (_one(values, name) or "").strip())}


def _text(values: FormValues, name: str) -> str:
    return (_one(values, name) or "").strip()


def _lines(values: FormValues, name: str, commas: bool = False) -> list[str]:
    text = _one(values, name) or ""
    parts = re.split(r"[\n,]" if commas else r"\n", text)
    return [p.strip() for p in parts if p.strip()]


def _checked(values: FormValues, name: str) -> bool:
    return bool(_one(values, name))


def answer_fields(card: PromptCard, values: FormValues) -> dict[str, Any]:
    """The loose fields of the answer to `card`'s prompt, read from the names its form uses."""
    kind = card.prompt.kind
    if kind == PromptKind.OPT_IN:
        return {"consent_to_ground_rules": _checked(values, "consent_to_ground_rules")}
    if kind == PromptKind.TRAINING:
        return {"modules": [m for m in values.get("modules", []) if m]}
    if kind == PromptKind.PREFERENCES:
        ranked = [_text(values, f"choice_{n}") for n in range(1, MAX_PREFERENCES + 1)]
        return {"ranked": [r for r in ranked if r]}
    if kind == PromptKind.ACCEPT_MATCH:
        return {**_present(values, "accept"), "reason": _text(values, "reason")}
    if kind == PromptKind.PROPOSE_PLAN:
        return {
            "goals": _lines(values, "goals"),
            "skills": _lines(values, "skills", commas=True),
            **_present(values, "meeting_every"),
            "channel": _text(values, "channel"),
            "accept_ground_rules": _checked(values, "accept_ground_rules"),
        }
    if kind == PromptKind.AGREE_PLAN:
        return {"accept_ground_rules": _checked(values, "accept_ground_rules")}
    if kind == PromptKind.CHECK_IN:
        return {**_present(values, "met", "progress"), "recap": _one(values, "recap") or ""}
    if kind == PromptKind.PULSE:
        return {**_present(values, "safe_and_useful"), "comment": _text(values, "comment")}
    if kind == PromptKind.MIDPOINT_SURVEY:
        return {**_present(values, "satisfaction", "usefulness"), "comment": _text(values, "comment")}
    if kind == PromptKind.CLOSEOUT_SURVEY:
        ratings = [
            {"skill": skill, **_present_as(values, {"before": f"before_{i}", "after": f"after_{i}"})}
            for i, skill in enumerate(card.skills)
        ]
        return {
            **_present(values, "satisfaction", "would_recommend"),
            "skill_ratings": ratings,
            "comment": _text(values, "comment"),
        }
    return {}  # approve_matches: approve the proposal as it stands


def _present_as(values: FormValues, names: dict[str, str]) -> dict[str, str]:
    return {key: value for key, name in names.items() if (value := (_one(values, name) or "").strip())}


# Errors, in words, next to the field they are about
_PYDANTIC_WORDS = {
    "missing": "Please answer this question.",
    "int_parsing": "Choose a whole number from 1 to 5.",
    "int_from_float": "Choose a whole number from 1 to 5.",
    "bool_parsing": "Choose yes or no.",
    "bool_type": "Choose yes or no.",
}
_FIELD_OF_LOC = {"ranked": "choices", "accept": "accept"}


def validation_errors(error: ValidationError) -> dict[str, str]:
    """Pydantic's complaints about a form, keyed by the form field they concern."""
    errors: dict[str, str] = {}
    for problem in error.errors():
        loc = problem["loc"]
        if len(loc) >= 3 and loc[0] == "skill_ratings":
            name = f"{loc[2]}_{loc[1]}"  # ("skill_ratings", 0, "before") -> before_0
        else:
            name = _FIELD_OF_LOC.get(str(loc[0]), str(loc[0])) if loc else "form"
        words = _PYDANTIC_WORDS.get(problem["type"], str(problem["msg"]).removeprefix("Value error, "))
        errors.setdefault(name, words[:1].upper() + words[1:])
    return errors


def form_field(kind: PromptKind, answer_field: str | None) -> str | None:
    """The form field an answer's field is shown at ("skill_ratings.0.before" -> "before_0"), or None."""
    if answer_field is None:
        return None
    parts = answer_field.split(".")  # a path the workflow built from the answer's own field names
    if parts[0] == "skill_ratings" and len(parts) == 3:
        return f"{parts[2]}_{parts[1]}"
    name = _FIELD_OF_LOC.get(parts[0], parts[0])
    return name if name in FORM_FIELDS.get(kind, set()) else None


def place_refusal(card: PromptCard, refused: Refused) -> None:
    """Put a workflow's refusal next to the field it names, or above the form when it names none of the form's."""
    sentence = refused.sentence[:1].upper() + refused.sentence[1:]
    name = form_field(card.prompt.kind, refused.field)
    if name is None:
        card.form_error = sentence
    else:
        card.errors[name] = sentence
