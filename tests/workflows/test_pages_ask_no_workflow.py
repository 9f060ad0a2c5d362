"""A participant's pages read from the record and never query a workflow.

The portal here holds a Temporal client that notes every workflow query it sends, and none may be sent. A pair
walks a whole program through it: signing in from their links, My prompts, each prompt's page, their pairing's
page, the step-back page, and answers (updates, which still go to the workflows). The coordinator's page still
asks the program's workflow for its status: it is not walked here.
"""

from collections.abc import AsyncIterator

import pytest

from demo.personas import Persona
from domain.prompts import PromptKind
from flipside_client import prompts_for
from portal.app import create_app
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import J0, S0, roster
from tests.helpers.portal import Browser, browser, prompt_path, short_spec, until_prompt, wind_down
from tests.helpers.programs import Handle, pairing_of, start_program
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
        async with browser(app) as junior, browser(app) as senior:
            assert await junior.sign_in(harness.settings, J0, handle.id, "opt-in") == f"/prompts/{handle.id}/opt-in"
            opt_in = await junior.post(f"/prompts/{handle.id}/opt-in", {"consent_to_ground_rules": "yes"})
            assert opt_in.status_code == 200 and "Welcome aboard" in opt_in.text
            await senior.sign_in(harness.settings, S0, handle.id)
            await pages_of(senior, handle, None)
            cast = personas_for(roster(1), junior00=Persona(J0))
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
    finally:
        app.state.portal.engine.dispose()
    assert seen.names == {}, seen.names
