"""The record keeps a program's records in sealed pages (adapters/store/pages.py), on SQLite and PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.store import tables as t
from adapters.store.pages import MissingPage, PageShelf
from adapters.store.sql import SqlEventStore
from bootstrap import sealer
from domain.people import Participant
from domain.program import PER_PAGE, Member, Page, handover_ref, pages_ref, roster_ref
from settings import Settings
from tests.helpers.people import roster


@pytest.fixture
def shelf(database_url: str, tmp_path: Path) -> Iterator[PageShelf]:
    store = SqlEventStore(database_url)  # migrates the schema, state_pages included
    yield PageShelf(store.engine, sealer(Settings(data_dir=tmp_path, database_url=database_url)))
    store.dispose()


def as_items(people: list[Participant]) -> list[dict[str, Any]]:
    return [Member(person=p).model_dump(mode="json") for p in people]


def people_in(items: list[dict[str, Any]]) -> list[Participant]:
    return [Member.model_validate(item).person for item in items]


def test_a_roster_is_kept_in_sealed_pages_and_read_back_the_same(shelf: PageShelf) -> None:
    people = roster(PER_PAGE)  # twice a page's worth: two pages
    ref = roster_ref("program-a", people)
    shelf.put_all(ref, as_items(people))
    assert ref.pages == 2 and ref.count == 2 * PER_PAGE
    assert [p for page in range(ref.pages) for p in people_in(shelf.get(ref, page))] == people
    with shelf.engine.connect() as conn:
        sealed = conn.execute(t.state_pages.select().with_only_columns(t.state_pages.c.sealed)).scalars().all()
    assert len(sealed) == 2 and not any("example.com" in s or "Jun 00" in s for s in sealed)


def test_storing_again_changes_nothing_and_another_roster_never_overwrites_the_first(shelf: PageShelf) -> None:
    first, second = roster(2), roster(3)
    ref = roster_ref("program-a", first)
    shelf.put_all(ref, as_items(first))
    shelf.put_all(ref, as_items(first))  # a start retried
    other = roster_ref("program-a", second)  # a second start under the same id, with another roster
    shelf.put_all(other, as_items(second))
    assert other.batch != ref.batch
    assert people_in(shelf.get(ref, 0)) == first and people_in(shelf.get(other, 0)) == second


def test_a_missing_page_is_an_error_that_names_it(shelf: PageShelf) -> None:
    ref = pages_ref("program-a", "handover-3-members", 10)
    with pytest.raises(MissingPage, match="page 0 of handover-3-members for program-a"):
        shelf.get(ref, 0)


def test_only_the_latest_two_handovers_and_the_roster_are_kept_past_a_handover(shelf: PageShelf) -> None:
    items = as_items(roster(2))
    start = roster_ref("program-a", roster(2))
    shelf.put_all(start, items)
    shelf.put_all(pages_ref("program-b", "handover-1-members", 4), items)  # another program's pages stay
    shelf.put_all(pages_ref("program-a", "pool-0-0", 4), items)  # matched before the first handover: gone
    for n in range(1, 12):
        for kind in ("members", "pairings"):
            shelf.put(Page(ref=handover_ref("program-a", n, kind, len(items)), page=0, items=items))
        shelf.forget_older_handovers("program-a", n)
    with shelf.engine.connect() as conn:
        kept = {(r.workflow_id, r.batch) for r in conn.execute(t.state_pages.select())}
    assert kept == {
        ("program-a", start.batch),
        *(("program-a", f"handover-{n}-{kind}") for n in (10, 11) for kind in ("members", "pairings")),
        ("program-b", "handover-1-members"),
    }
