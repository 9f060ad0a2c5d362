"""When Temporal cannot answer, the portal says so: a 503 with a retry, nothing lost, its security headers kept.

A real dev server (a process of the test's own) goes away under a connected portal, as in an outage or a restart.
"""

from pathlib import Path

from temporalio.client import Client

from portal.app import create_app
from portal.sessions import SESSION_COOKIE
from tests.helpers.harness import Harness
from tests.helpers.people import J0
from tests.helpers.portal import browser, forged_session, text_of
from tests.helpers.processes import DevServer, cleaned_up


async def test_a_portal_that_cannot_reach_temporal_says_so_with_503_and_keeps_its_headers(
    harness: Harness, tmp_path: Path
) -> None:
    """A real server that goes away under a connected portal, as in an outage or a restart."""
    server = DevServer(tmp_path)
    with cleaned_up(server):
        await server.start()
        client = await Client.connect(server.address)
        app = create_app(harness.settings.model_copy(update={"data_dir": tmp_path}), client)
        try:
            await server.stop()
            async with browser(app) as junior:
                key = harness.settings.signing_key()
                sid = app.state.portal.signed_in.start(J0, "program-x")  # as signing in with a link does
                session = forged_session(key, csrf="c" * 43, email=J0, program_id="program-x", sid=sid)
                junior.http.cookies.set(SESSION_COOKIE, session)  # signed with the real key: a valid session
                page = await junior.get("/")
                assert page.status_code == 503
                assert page.headers["retry-after"] == "5"
                assert "Nothing was lost" in text_of(page.text)
                assert page.headers["x-frame-options"] == "DENY"
        finally:
            app.state.portal.engine.dispose()
