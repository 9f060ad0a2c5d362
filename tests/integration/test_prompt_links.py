"""A prompt's link opened the moment its message arrives finds the prompt, on SQLite and PostgreSQL.

A workflow sends a prompt's message and the event that shows it in the record side by side, so the link can
arrive first. The portal then waits, bounded, for the record (PromptShelf.until_shown); a link to a prompt the
record has closed has nothing to wait for.
"""

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.store import prompts
from adapters.store.prompts import PromptShelf
from adapters.store.sql import SqlEventStore
from bootstrap import sealer
from domain import events as ev
from domain.prompts import PendingPrompt, PromptKind
from settings import Settings
from tests.helpers.report_record import Record

PROGRAM = "program-links"
PERSON = "junior@example.com"


@pytest.fixture
def record(database_url: str, tmp_path: Path) -> Iterator[tuple[SqlEventStore, PromptShelf, Record]]:
    store = SqlEventStore(database_url)
    shelf = PromptShelf(store.engine, sealer(Settings(data_dir=tmp_path, database_url=database_url)))
    started = Record(PROGRAM, datetime(2026, 1, 5, tzinfo=UTC))
    started.start("Links", "Links open what they name", [])
    shown(started, shelf, "training")  # the program keeps its prompts in the record from its first
    store.append(started.events)
    yield store, shelf, started
    store.dispose()


def shown(record: Record, shelf: PromptShelf, prompt_id: str) -> None:
    view = PendingPrompt(
        id=prompt_id,
        kind=PromptKind.OPT_IN,
        participant=PERSON,
        question="Will you take part?",
        workflow_id=PROGRAM,
        update="opt_in",
        due_at=None,
        paused=False,
    )
    fact = ev.PromptShown(prompt_id=prompt_id, prompt_kind=view.kind, due_at=None, sealed=shelf.sealer.seal(view))
    record.add(fact, person=PERSON)


def test_a_link_ahead_of_the_record_waits_for_its_prompt(record: tuple[SqlEventStore, PromptShelf, Record]) -> None:
    store, shelf, events = record
    before = len(events.events)
    shown(events, shelf, "opt-in")
    late = threading.Timer(0.3, store.append, [events.events[before:]])  # the event lands after the link opens
    late.start()
    try:
        assert shelf.until_shown(PROGRAM, PROGRAM, PERSON, "opt-in")
    finally:
        late.join()
    assert [p.id for p in shelf.for_person(PROGRAM, PERSON) or []] == ["opt-in", "training"]


def test_a_link_to_a_closed_prompt_does_not_wait(
    record: tuple[SqlEventStore, PromptShelf, Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, shelf, events = record
    monkeypatch.setattr(prompts, "CATCH_UP_LIMIT", 600.0)  # a wait would show as a hung test, never a pass
    before = len(events.events)
    events.add(ev.PromptClosed(prompt_id="training"), person=PERSON)
    store.append(events.events[before:])
    started = time.monotonic()
    assert not shelf.until_shown(PROGRAM, PROGRAM, PERSON, "training")
    assert time.monotonic() - started < 60  # answered from the record, not by waiting out the limit
    assert shelf.for_person(PROGRAM, PERSON) == []


def test_a_program_whose_record_keeps_no_prompts_has_nothing_to_wait_for(
    record: tuple[SqlEventStore, PromptShelf, Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, shelf, _ = record
    monkeypatch.setattr(prompts, "CATCH_UP_LIMIT", 600.0)
    assert not shelf.until_shown("program-before-prompts-were-kept", PROGRAM, PERSON, "opt-in")
