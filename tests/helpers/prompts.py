"""Prompts as a workflow opens them, for tests of the rules around them without a workflow."""

from datetime import timedelta

from domain.prompts import Prompt, PromptKind


def a_prompt(
    kind: PromptKind,
    participant: str,
    prompt_id: str = "p",
    question: str = "?",
    workflow_id: str = "pairing-x",
    update: str = "u",
    due: timedelta = timedelta(hours=1),
) -> Prompt:
    """A prompt opened at the start of its workflow's clock, due `due` later."""
    return Prompt(
        id=prompt_id,
        kind=kind,
        participant=participant,
        question=question,
        workflow_id=workflow_id,
        update=update,
        opened=timedelta(0),
        due=due,
    )
