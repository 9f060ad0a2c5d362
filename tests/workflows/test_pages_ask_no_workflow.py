"""The portal's pages read from the record and never query a workflow.

The portal here holds a Temporal client that notes every workflow query it sends, and none may be sent. A pair
and their coordinator walk a whole program through it: signing in from their links, My prompts, each prompt's
page, the pairing's page, the step-back page, the coordinator's page with the proposal to approve and after,
and answers and the approval (updates, which still go to the workflows).
"""

from collections.abc import AsyncIterator

import pytest

from demo.personas import Persona
from domain.prompts import PromptKind
from flipside_client import prompts_for
from portal.app import create_app
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import COORDINATOR, J0, S0, roster
from tests.helpers.portal import Browser, browser, prompt_path, short_spec, until_prompt, wind_down
from tests.helpers.programs import Handle, awaiting_approval, pairing_of, start_program
from tests.helpers.queries import QueriesSeen, client_with


@pytest.fixture
async def harness(harness: Harness) -> AsyncIterator[Harness]:
    yield harness
    await wind_down(harness)


async def pages_of(person: Browser, handle: Handle, pairing_id: str | None) -> None:
    """Everything a participant reads: My prompts, each open prompt, their pairing, the step-back page."""
    home = await person.get("/")
    assert home.status_code == 200, home.text
    assert "Signed in as" in home.text
    for path in set(_prompt_links(home.text)):
        assert (await person.get(path)).status_code == 200, path
    if pairing_id is not None:
        pairing = await person.get(f"/pairings/{pairing_id}")
        assert pairing.status_code == 200 and "Your pairing" in pairing.text
    assert (await person.get("/withdraw")).status_code == 200


async def check_in_open(h: Harness, handle: Handle) -> bool:
    return any(p.kind == PromptKind.CHECK_IN for p in await prompts_for(h.client, handle.id, J0))


def _prompt_links(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('href="')[1:] if part.startswith("/prompts/")]


async def test_a_pairs_pages_never_query_a_workflow(harness: Harness) -> None:
    seen = QueriesSeen()
    handle = await start_program(harness, short_spec(), roster(1))
    app = create_app(harness.settings, client_with(harness.client, seen))
    try:
        async with browser(app) as junior, browser(app) as senior, browser(app) as coach:
            assert await junior.sign_in(harness.settings, J0, handle.id, "opt-in") == f"/prompts/{handle.id}/opt-in"
            opt_in = await junior.post(f"/prompts/{handle.id}/opt-in", {"consent_to_ground_rules": "yes"})
            assert opt_in.status_code == 200 and "Welcome aboard" in opt_in.text
            await senior.sign_in(harness.settings, S0, handle.id)
            await pages_of(senior, handle, None)
            cast = personas_for(roster(1), junior00=Persona(J0))
            await drive(harness, handle, cast, until_true=lambda: awaiting_approval(handle))
            await coach.sign_in(harness.settings, COORDINATOR, handle.id)
            proposal = await coach.get("/program")
            assert proposal.status_code == 200 and "Approve these 1 pairs" in proposal.text, proposal.text
            approved = await coach.post("/program/approve", {})
            assert approved.status_code == 200 and "Pairs approved" in approved.text, approved.text
            assert "Approve these" not in (await coach.get("/program")).text
            await drive(harness, handle, cast, until_true=lambda: check_in_open(harness, handle))
            pairing = (await pairing_of(harness, handle, J0)).id
            checkin = await until_prompt(harness, handle.id, J0, PromptKind.CHECK_IN)
            for person in (junior, senior):
                await pages_of(person, handle, pairing)
            form = {"met": "yes", "progress": "4", "recap": "we tried the new dashboard"}
            logged = await junior.post(prompt_path(checkin), form)
            assert logged.status_code == 200, logged.text
            await pages_of(junior, handle, pairing)
            assert "we tried the new dashboard" in (await junior.get(f"/pairings/{pairing}")).text
            await drive(harness, handle, cast)
            for person in (junior, senior):
                await pages_of(person, handle, None)
            assert (await coach.get("/program")).status_code == 200
    finally:
        app.state.portal.engine.dispose()
    assert seen.names == {}, seen.names
