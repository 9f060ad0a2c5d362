"""The record keeps a program's members in sealed pages (adapters/store/members.py), on SQLite and PostgreSQL."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.store import tables as t
from adapters.store.members import MemberShelf, MissingPage
from adapters.store.sql import SqlEventStore
from bootstrap import sealer
from domain.program import PEOPLE_PER_PAGE, Member, MemberPage, handover_ref, roster_ref
from settings import Settings
from tests.helpers.people import roster


@pytest.fixture
def shelf(database_url: str, tmp_path: Path) -> Iterator[MemberShelf]:
    store = SqlEventStore(database_url)  # migrates the schema, member_pages included
    yield MemberShelf(store.engine, sealer(Settings(data_dir=tmp_path, database_url=database_url)))
    store.dispose()


def test_a_roster_is_kept_in_sealed_pages_and_read_back_the_same(shelf: MemberShelf) -> None:
    people = roster(PEOPLE_PER_PAGE)  # twice a page's worth: two pages
    ref = roster_ref("program-a", people)
    shelf.put_all(ref, [Member(person=p) for p in people])
    assert ref.pages == 2 and ref.members == 2 * PEOPLE_PER_PAGE
    read = [m.person for page in range(ref.pages) for m in shelf.get(ref, page)]
    assert read == people
    with shelf.engine.connect() as conn:
        sealed = conn.execute(t.member_pages.select().with_only_columns(t.member_pages.c.sealed)).scalars().all()
    assert len(sealed) == 2 and not any("example.com" in s or "Jun 00" in s for s in sealed)


def test_storing_again_changes_nothing_and_another_roster_never_overwrites_the_first(shelf: MemberShelf) -> None:
    first, second = roster(2), roster(3)
    ref = roster_ref("program-a", first)
    shelf.put_all(ref, [Member(person=p) for p in first])
    shelf.put_all(ref, [Member(person=p) for p in first])  # a start retried
    other = roster_ref("program-a", second)  # a second start under the same id, with another roster
    shelf.put_all(other, [Member(person=p) for p in second])
    assert other.batch != ref.batch
    assert [m.person for m in shelf.get(ref, 0)] == first
    assert [m.person for m in shelf.get(other, 0)] == second


def test_a_missing_page_is_an_error_that_names_it(shelf: MemberShelf) -> None:
    ref = handover_ref("program-a", 3, 10)
    with pytest.raises(MissingPage, match="page 0 of handover-3 for program-a"):
        shelf.get(ref, 0)


def test_only_the_latest_two_handovers_and_the_roster_are_kept(shelf: MemberShelf) -> None:
    people = roster(2)
    members = [Member(person=p) for p in people]
    start = roster_ref("program-a", people)
    shelf.put_all(start, members)
    shelf.put_all(handover_ref("program-b", 1, 4), members)  # another program's pages are left alone
    for n in range(1, 5):
        ref = handover_ref("program-a", n, len(members))
        shelf.put(MemberPage(ref=ref, page=0, members=members))
        shelf.forget_older_handovers(ref)
    with shelf.engine.connect() as conn:
        kept = {(r.workflow_id, r.batch) for r in conn.execute(t.member_pages.select())}
    assert kept == {
        ("program-a", start.batch),
        ("program-a", "handover-3"),
        ("program-a", "handover-4"),
        ("program-b", "handover-1"),
    }
