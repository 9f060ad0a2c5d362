"""My prompts is read from the record, never by asking workflows for prompts, and shows an answer's effect at once.

The portal runs over a client that notes every query it sends. A person's prompts, in the program and in their
pairing, come from the record (adapters/store/prompts.py); after an answer the page waits for the record to
show it, so the list that follows no longer holds the prompt just answered. The answer's own page does not wait
(it shows what the workflow replied); the session carries the answer to the next page read, which does.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from adapters.store import prompts as prompts_store
from domain.prompts import PromptKind
from portal.app import create_app
from portal.sessions import SESSION_COOKIE, Answered, Session
from tests.helpers.harness import Harness
from tests.helpers.people import J0, S0, roster
from tests.helpers.portal import browser, portal_app, prompt_path, short_spec, until_prompt, wind_down
from tests.helpers.programs import start_program
from tests.helpers.queries import QueriesSeen, client_with
from tests.helpers.waiting import eventually


@pytest.fixture
async def harness(harness: Harness) -> AsyncIterator[Harness]:
    yield harness
    await wind_down(harness)


def watched_portal(h: Harness, seen: QueriesSeen) -> FastAPI:
    return create_app(h.settings, client_with(h.client, seen))


async def test_my_prompts_come_from_the_record_and_follow_each_answer(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The page after an answer waits for the record; unbounded here, so a busy machine cannot make it give up.
    monkeypatch.setattr(prompts_store, "CATCH_UP_LIMIT", 600.0)
    handle = await start_program(harness, short_spec(matching={"auto_approve": True}), roster(1))
    seen = QueriesSeen()
    app = watched_portal(harness, seen)
    shelf = app.state.portal.shelf
    # The invitation goes out as the start reaches the record; a link opened before that is served by a query.
    await eventually(lambda: shelf.for_person(handle.id, J0), "the record holds the invitation")
    async with browser(app) as junior, browser(app) as senior:
        await junior.sign_in(harness.settings, J0, handle.id)
        await senior.sign_in(harness.settings, S0, handle.id)
        assert "Join the program" in (await junior.get("/")).text and "As of " in (await junior.get("/")).text

        opt_in = await junior.post(f"/prompts/{handle.id}/opt-in", {"consent_to_ground_rules": "yes"})
        assert opt_in.status_code == 200 and "may take a moment" not in opt_in.text
        assert "Join the program" not in (await junior.get("/")).text  # read your writes, in the program
        await senior.post(f"/prompts/{handle.id}/opt-in", {"consent_to_ground_rules": "yes"})

        for email, who in ((J0, junior), (S0, senior)):
            training = await until_prompt(harness, handle.id, email, PromptKind.TRAINING, timedelta(hours=12))
            await who.post(prompt_path(training), {"modules": training.context.modules})
        accept = await until_prompt(harness, handle.id, J0, PromptKind.ACCEPT_MATCH)

        # A pairing's prompt, from the record too: the query above saw it in the workflow, and the record follows
        # within an append's round trip (on a loaded machine, a while).
        async def listed() -> bool:
            return prompt_path(accept) in (await junior.get("/")).text

        await eventually(listed, "the record shows the pairing's prompt on My prompts", attempts=2400)
        answered = await junior.post(prompt_path(accept), {"accept": "yes"})
        assert answered.status_code == 200
        assert prompt_path(accept) not in (await junior.get("/")).text  # read your writes, in a pairing
    app.state.portal.engine.dispose()
    assert seen.names["pending_prompts"] == 0, seen.names


LAG_NOTE = "This page may take a moment to show it"


async def test_the_page_after_an_answer_waits_for_the_record_and_says_so_when_it_lags(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session that holds an answer the record does not show yet (its prompt still shown as before) makes the
    next page wait, bounded, and say so; that page clears it, so the page after does not wait again."""
    monkeypatch.setattr(prompts_store, "CATCH_UP_LIMIT", 0.3)
    handle = await start_program(harness, short_spec(), roster(1))
    async with portal_app(harness) as app, browser(app) as junior:
        shelf, sessions = app.state.portal.shelf, app.state.portal.sessions
        await eventually(lambda: shelf.for_person(handle.id, J0), "the record holds the invitation")
        await junior.sign_in(harness.settings, J0, handle.id)
        before = shelf.shown_as(handle.id, J0, "opt-in")
        assert before is not None

        def carrying(*answered: Answered) -> None:  # the cookie an answer's page sends back
            session = Session.model_validate(sessions.serializer.loads(junior.http.cookies[SESSION_COOKIE]))
            cookie = sessions.serializer.dumps(session.model_copy(update={"answered": list(answered)}).model_dump())
            kept = next(c for c in junior.http.cookies.jar if c.name == SESSION_COOKIE)
            junior.http.cookies.set(SESSION_COOKIE, cookie, domain=kept.domain, path=kept.path)

        carrying(Answered(workflow_id=handle.id, prompt_id="opt-in", shown_as=before))  # not in the record yet
        lagging = await junior.get("/")
        assert lagging.status_code == 200 and LAG_NOTE in lagging.text
        assert LAG_NOTE not in (await junior.get("/")).text, "the page that said so forgot the answer"

        carrying(Answered(workflow_id=handle.id, prompt_id="opt-in", shown_as=before - 1))  # the record moved on
        assert LAG_NOTE not in (await junior.get("/")).text
