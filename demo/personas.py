"""Simulated participants: each answers its prompts the way one kind of person would.

The demo shows a varied program (a decline and a rematch, a withdrawal, a pair that stops checking in, a
mentor whose private pulse is low) and the tests reuse the same people to drive workflows.
"""

import zlib
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import Client

from domain.answers import Withdrawal
from domain.prompts import PendingPrompt, PromptKind
from flipside_client import Refused, build_answer, leave_pairing, prompts_for, send_answer


@dataclass
class Persona:
    """How one person answers. `silent` kinds are left unanswered; the rest get a sensible answer."""

    email: str
    decline_match: bool = False
    silent: set[PromptKind] = field(default_factory=set)
    stop_checkins_after: int | None = None  # cycle after which the pair no longer meets
    low_pulse: bool = False
    withdraw_at_cycle: int | None = None
    progress: int = 4
    recap: str = "practised together"  # private to the pair: never in the record
    comment: str = ""  # survey free text: in the record only when the spec keeps comments

    def fields_for(self, prompt: PendingPrompt) -> dict[str, Any] | None:
        kind, context = prompt.kind, prompt.context
        if kind in self.silent:
            return None
        cycle = context.cycle or 0
        if kind == PromptKind.OPT_IN:
            return {"consent_to_ground_rules": True}
        if kind == PromptKind.TRAINING:
            return {"modules": [m for m in context.modules if m not in context.modules_done]}
        if kind == PromptKind.APPROVE_MATCHES:
            return {}
        if kind == PromptKind.ACCEPT_MATCH:
            if self.decline_match:
                self.decline_match = False  # declines the first match only, then gives the rematch a go
                return {"accept": False, "reason": "I would prefer someone outside my own team"}
            return {"accept": True}
        if kind == PromptKind.PROPOSE_PLAN:
            return {
                "goals": ["Get comfortable with the tools the team uses"],
                "skills": ["digital tools"],
                "channel": "video",
                "accept_ground_rules": True,
            }
        if kind == PromptKind.AGREE_PLAN:
            return {"accept_ground_rules": True}
        if kind == PromptKind.CHECK_IN:
            met = self.stop_checkins_after is None or cycle <= self.stop_checkins_after
            return {"met": met, "progress": self.progress if met else 2, "recap": f"Cycle {cycle}: {self.recap}"}
        if kind == PromptKind.PULSE:
            return {"safe_and_useful": 1 if self.low_pulse else 5, "comment": self.comment}
        if kind == PromptKind.MIDPOINT_SURVEY:
            return {"satisfaction": 4, "usefulness": 4, "comment": self.comment}
        if kind == PromptKind.CLOSEOUT_SURVEY:
            return {
                "satisfaction": 4,
                "would_recommend": True,
                "comment": self.comment,
                "skill_ratings": [self.self_rating(s) for s in context.skills_to_rate],
            }
        return None

    def self_rating(self, skill: str) -> dict[str, Any]:
        """Before and after, varied from person to person (but the same every run) so the evaluation has spread."""
        spread = zlib.crc32(f"{self.email}/{skill}".encode())
        before = 1 + spread % 3
        return {"skill": skill, "before": before, "after": min(5, before + 1 + (spread >> 4) % 3)}


async def answer_everything(
    client: Client, program_id: str, personas: dict[str, Persona], holding: frozenset[PromptKind] = frozenset()
) -> list[str]:
    """One pass: every persona answers every prompt it has, but those of the `holding` kinds. Returns a line per
    answer, for progress output."""
    lines = []
    for email, persona in personas.items():
        for prompt in await prompts_for(client, program_id, email):
            if prompt.kind in holding:
                continue
            if persona.withdraw_at_cycle is not None and (prompt.context.cycle or 0) >= persona.withdraw_at_cycle:
                await leave_pairing(client, prompt.workflow_id, Withdrawal(participant=email, reason="workload"))
                lines.append(f"{email} withdrew")
                persona.withdraw_at_cycle = None
                persona.silent = set(PromptKind)
                break
            fields = persona.fields_for(prompt)
            if fields is None:
                continue
            try:
                reply = await send_answer(client, prompt, build_answer(prompt, email, fields))
                lines.append(f"{email} answered {prompt.id}: {reply}")
            except Refused as refusal:
                lines.append(f"{email} could not answer {prompt.id}: {refusal}")
    return lines
