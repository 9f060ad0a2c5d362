"""Confidential by encryption: Temporal's history holds no recap or survey answer in plain text.

A program runs with the production converter (compress, then AES-256-GCM) on client and worker, and its history
and every pairing's are read raw from the server. Keys rotate without losing old payloads, histories recorded
before encryption still replay, and the codec server decrypts only for a bearer of its token, or for a browser
signed in with it (tests/browser/test_codec_ui.py shows the Temporal UI doing so).
"""

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from http.cookies import Morsel, SimpleCookie
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from google.protobuf import json_format
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.history.v1 import History
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment

from adapters.codec import (
    COMPRESS_ABOVE,
    ENCRYPTED,
    KEY_ID,
    ZLIB,
    CompressionCodec,
    EncryptionCodec,
    Keyring,
    UnknownKeyError,
    UnreadablePayloadError,
    data_converter,
    payload_codec,
)
from codec_server import MAX_BODY, SESSION_COOKIE, SESSION_HOURS, UiSessions, build_app
from demo.personas import Persona
from domain.program import ProgramInput, ProgramPhase
from domain.spec import ProgramSpec
from settings import Settings
from tests.helpers.driving import drive, personas_for
from tests.helpers.harness import Harness
from tests.helpers.people import roster, spec
from tests.helpers.programs import Handle, start_program, status
from tests.helpers.replaying import RECORDED, replay_failures
from tests.helpers.servers import binary
from worker import build_worker
from workflows import search
from workflows.program import ProgramWorkflow

KEY_A, KEY_B = bytes(range(32)), bytes(range(32, 64))
ONLY_A = Keyring(keys={"key-a": KEY_A}, active="key-a")
ROTATED = Keyring(keys={"key-a": KEY_A, "key-b": KEY_B}, active="key-b")  # B seals, A still opens
ONLY_B = Keyring(keys={"key-b": KEY_B}, active="key-b")
TOKEN = "codec-token-for-tests-0123456789"
UI = "http://localhost:8233"


def plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=f'"{text}"'.encode())


# A program run with encryption, and its history read raw


def sealed_client(env: WorkflowEnvironment, keyring: Keyring) -> Client:
    """A client of a test server that encrypts (with the environment's interceptors, so time still skips)."""
    config = env.client.config()
    config["data_converter"] = data_converter(keyring)
    return Client(**config)


@asynccontextmanager
async def sealed_worker(h: Harness, keyring: Keyring, cache: bool = True) -> AsyncIterator[Client]:
    """The harness's worker and client, both on the encrypting converter. A worker that caches nothing leaves
    no sticky queue behind, so the worker after it replays each workflow from its history (all of it sealed)."""
    h.client = sealed_client(h.env, keyring)
    cached = 1000 if cache else 0
    async with build_worker(h.client, h.settings, channel=h.channel, store=h.store, max_cached_workflows=cached):
        yield h.client


@pytest.fixture
async def sealed(env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Harness]:
    """Like `harness`, without a worker: the test runs its own through `sealed_worker`."""
    h = Harness(env, tmp_path)
    try:
        yield h
        await h.end_leftovers()
    finally:
        h.store.dispose()


def three_weeks_keeping_comments() -> ProgramSpec:
    """Three check-in cycles, a mid-point and a close-out survey; comments kept, so they travel to the record."""
    return spec(keep_survey_comments=True, durations={"program_length": "3w"})


def cast_with_markers(people: list[str]) -> tuple[dict[str, Persona], dict[str, str]]:
    """Personas whose recaps and survey comments are unique strings, and those strings by what they are."""
    run = uuid.uuid4().hex[:10]
    markers: dict[str, str] = {}
    special: dict[str, Persona] = {}
    for email in people:
        name = email.split("@")[0]
        markers[f"recap of {name}"] = f"recap-{run}-{name}"
        markers[f"comment of {name}"] = f"comment-{run}-{name}"
        special[name] = Persona(email, recap=markers[f"recap of {name}"], comment=markers[f"comment of {name}"])
    return special, markers


def workflow_ids(h: Harness, program: Handle) -> list[str]:
    return [program.id, *sorted({str(n["pairing_id"]) for n in h.notices() if n["pairing_id"]})]


async def raw_histories(client: Client, ids: list[str]) -> dict[str, History]:
    """Histories as the server keeps them: fetching decodes nothing."""
    return {i: History(events=(await client.get_workflow_handle(i).fetch_history()).events) for i in ids}


def payloads_in(message: Message, path: str = "") -> Iterator[tuple[str, Payload]]:
    """Every Payload anywhere in a protobuf message, with the field path that leads to it."""
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        here = f"{path}.{field.name}"
        if field.message_type.GetOptions().map_entry:
            items: list[tuple[str, Any]] = [(f"{here}[{k}]", v) for k, v in value.items()]
        elif isinstance(value, Message):
            items = [(here, value)]
        else:
            items = [(f"{here}[{i}]", v) for i, v in enumerate(value)]
        for where, item in items:
            if isinstance(item, Payload):
                yield where, item
            elif isinstance(item, Message):
                yield from payloads_in(item, where)


def readable_by_design(path: str) -> bool:
    """Payloads the codec never sees: search attributes, which the server indexes (program id, phase, kind),
    and the SDK's patch markers (a patch's name)."""
    return ".search_attributes." in path or ".marker_recorded_event_attributes." in path


async def decoded_text(histories: dict[str, History], keyring: Keyring) -> str:
    codec = payload_codec(keyring)
    found = [p for h in histories.values() for _, p in payloads_in(h)]
    return "\n".join(p.data.decode(errors="replace") for p in await codec.decode(found))


async def test_no_recap_or_survey_answer_reaches_the_history_in_plain_text(sealed: Harness) -> None:
    people = roster(2)
    special, markers = cast_with_markers([p.email for p in people])
    async with sealed_worker(sealed, ONLY_A) as client:
        program = await start_program(
            sealed, spec(keep_survey_comments=True, durations={"program_length": "3w"}), people
        )
        await drive(sealed, program, personas_for(people, **special))
        histories = await raw_histories(client, workflow_ids(sealed, program))

    assert len(histories) == 3  # the program and its two pairings
    leaks = [
        f"{workflow_id} event {event.event_id} holds the {what}"
        for workflow_id, history in histories.items()
        for event in history.events
        for what, marker in markers.items()
        if marker.encode() in event.SerializeToString()
    ]
    assert leaks == []
    for history in histories.values():
        sealed_payloads = [p for w, p in payloads_in(history) if not readable_by_design(w)]
        assert len(sealed_payloads) > 20
        assert {(p.metadata["encoding"], p.metadata[KEY_ID]) for p in sealed_payloads} == {(ENCRYPTED, b"key-a")}

    # The check bites: with the key, every recap and every comment is there (in updates, state, activities).
    text = await decoded_text(histories, ONLY_A)
    assert [what for what, marker in markers.items() if marker not in text] == []


async def test_payloads_sealed_before_a_key_rotation_are_read_after_it(sealed: Harness) -> None:
    people = roster(1)
    special, markers = cast_with_markers([p.email for p in people])
    cast = personas_for(people, **special)
    async with sealed_worker(sealed, ONLY_A, cache=False):  # key A: recruitment, training, matching, kick-off
        program = await start_program(sealed, three_weeks_keeping_comments(), people)
        await drive(sealed, program, cast, until=ProgramPhase.MENTORING)
    # Key B seals from now on. The new worker starts with an empty cache, so it replays the program and the
    # pairing from their histories, opening everything sealed under A (their inputs, opt-ins, approvals).
    async with sealed_worker(sealed, ROTATED) as client:
        program = client.get_workflow_handle(program.id)
        await drive(sealed, program, cast)
        assert (await status(program)).phase == ProgramPhase.COMPLETED
        histories = await raw_histories(client, workflow_ids(sealed, program))

    def keys_used(history: History) -> set[bytes]:
        return {p.metadata[KEY_ID] for w, p in payloads_in(history) if not readable_by_design(w)}

    pairing_id = next(i for i in histories if i != program.id)
    assert keys_used(histories[program.id]) == keys_used(histories[pairing_id]) == {b"key-a", b"key-b"}
    pairing_input = histories[pairing_id].events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert pairing_input.metadata[KEY_ID] == b"key-a"
    codec = EncryptionCodec(ROTATED)
    recap_keys = set()
    for event in histories[pairing_id].events:
        if event.HasField("workflow_execution_update_accepted_event_attributes"):
            (sent,) = event.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads
            if markers["recap of junior00"] in (await codec.decode([sent]))[0].data.decode():
                recap_keys.add(sent.metadata[KEY_ID])
    assert recap_keys == {b"key-b"}
    assert [what for what, marker in markers.items() if marker not in await decoded_text(histories, ROTATED)] == []

    # Dropping key A too early would lose those payloads, and the error says which key is missing.
    with pytest.raises(UnknownKeyError, match=r"'key-a'.*FLIPSIDE_CODEC_KEYS"):
        await EncryptionCodec(ONLY_B).decode([pairing_input])


async def test_histories_recorded_before_encryption_replay_with_the_encrypting_converter() -> None:
    """Production replays programs started before encryption. One whole program is enough here: decoding
    passes any payload it did not seal, whatever the scenario (tests/workflows/test_replay.py replays every one)."""
    lifecycle = [path for path in RECORDED if path.parent.name == "lifecycle"]
    histories = [(path.stem, WorkflowHistory.from_json(path.stem, path.read_text())) for path in lifecycle]
    assert len(lifecycle) >= 3 and await replay_failures(histories, data_converter(ONLY_A)) == {}


# The codec on its own


async def test_each_payload_is_sealed_under_the_active_key_with_a_fresh_nonce() -> None:
    codec = EncryptionCodec(ROTATED)
    once, twice = await codec.encode([plain("a recap"), plain("a recap")])
    for sealed_payload in (once, twice):
        assert sealed_payload.metadata == {"encoding": ENCRYPTED, KEY_ID: b"key-b"}
        assert b"a recap" not in sealed_payload.SerializeToString()
    assert once.data[:12] != twice.data[:12] and once.data != twice.data
    assert await codec.decode([once, twice]) == [plain("a recap"), plain("a recap")]


async def test_payloads_the_codec_did_not_seal_pass_through() -> None:
    """Histories written before encryption hold plain and compressed payloads; both still decode."""
    big = Payload(metadata={"encoding": b"json/plain"}, data=b'{"participant": "x"},' * 10_000)
    compressed = (await CompressionCodec().encode([big]))[0]
    assert compressed.metadata["encoding"] == ZLIB
    assert await EncryptionCodec(ONLY_A).decode([plain("old"), compressed]) == [plain("old"), compressed]
    assert await payload_codec(ONLY_A).decode([plain("old"), compressed]) == [plain("old"), big]


async def test_large_payloads_are_compressed_then_sealed() -> None:
    big = Payload(metadata={"encoding": b"json/plain"}, data=b'{"participant": "x"},' * 10_000)
    assert big.ByteSize() > COMPRESS_ABOVE
    (sent,) = await payload_codec(ONLY_A).encode([big])
    assert sent.metadata["encoding"] == ENCRYPTED and sent.ByteSize() < big.ByteSize() / 10
    inner = (await EncryptionCodec(ONLY_A).decode([sent]))[0]
    assert inner.metadata["encoding"] == ZLIB
    assert await payload_codec(ONLY_A).decode([sent]) == [big]


async def test_an_altered_or_relabelled_payload_is_refused() -> None:
    codec = EncryptionCodec(ROTATED)
    (sent,) = await codec.encode([plain("a survey answer")])
    flipped = Payload(metadata=sent.metadata, data=sent.data[:-1] + bytes([sent.data[-1] ^ 1]))
    relabelled = Payload(metadata={"encoding": ENCRYPTED, KEY_ID: b"key-a"}, data=sent.data)
    for bad in (flipped, relabelled):
        with pytest.raises(UnreadablePayloadError, match="failed authentication"):
            await codec.decode([bad])


def test_keyrings_are_read_from_settings_text_and_checked() -> None:
    a, b = base64.b64encode(KEY_A).decode(), base64.b64encode(KEY_B).decode()
    assert Keyring.parse(f"key-a:{a}, key-b:{b}", "key-b") == ROTATED
    assert Keyring.parse(f"key-a:{a}") == ONLY_A
    assert Keyring.parse(ROTATED.serialise(), "key-b") == ROTATED
    for text, active, problem in [
        (f"key-a:{a},key-b:{b}", "", "name the one to encrypt with"),
        (f"key-a:{a}", "key-z", "'key-z' is not among the keys"),
        ("key-a:not base64!", "", "not valid base64"),
        (f"key-a:{base64.b64encode(b'short').decode()}", "", "AES-256 needs 32"),
        (a, "", "not `id:base64key`"),
        (f"key-a:{a},key-a:{b}", "key-a", "listed twice"),
        ("", "", "no keys given"),
    ]:
        with pytest.raises(ValueError, match=problem):
            Keyring.parse(text, active)


def test_without_keys_set_every_process_of_an_installation_shares_one_development_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with ThreadPoolExecutor(max_workers=8) as pool:  # worker, demo, portal, codec server starting together
        keyrings = list(pool.map(lambda _: settings.codec_keyring(), range(16)))
    assert len({k.serialise() for k in keyrings}) == 1 and len(keyrings[0].keys) == 1
    kept = tmp_path / "data" / "codec.keys"
    assert kept.stat().st_mode & 0o777 == 0o600 and list(kept.parent.iterdir()) == [kept]
    assert Settings(data_dir=tmp_path / "other").codec_keyring() != keyrings[0]

    configured = Settings(data_dir=tmp_path / "prod", codec_keys=ROTATED.serialise(), codec_key_id="key-b")
    assert configured.codec_keyring() == ROTATED and not (tmp_path / "prod").exists()
    with pytest.raises(ValueError, match="FLIPSIDE_CODEC_KEYS is empty"):
        Settings(data_dir=tmp_path, codec_key_id="key-b").codec_keyring()


def test_codec_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FLIPSIDE_CODEC_KEYS", ROTATED.serialise())
    monkeypatch.setenv("FLIPSIDE_CODEC_KEY_ID", "key-b")
    monkeypatch.setenv("FLIPSIDE_CODEC_TOKEN", TOKEN)
    monkeypatch.setenv("FLIPSIDE_CODEC_PORT", "9099")
    monkeypatch.setenv("FLIPSIDE_CODEC_UI_ORIGINS", "https://temporal.example")
    settings = Settings.from_env()
    assert settings.codec_keyring() == ROTATED and settings.codec_bearer_token() == TOKEN
    assert (settings.codec_port, settings.codec_ui_origins) == (9099, "https://temporal.example")
    assert TOKEN not in repr(settings) and ROTATED.serialise() not in repr(settings)  # never in a log line

    development = Settings(data_dir=tmp_path)  # no token set: one made once, kept for the engineer to read
    assert (
        development.codec_bearer_token() == development.codec_bearer_token() == development.codec_token_path.read_text()
    )
    assert len(development.codec_bearer_token()) >= 32
    with pytest.raises(ValueError, match="too short"):
        Settings(codec_token="guessable").codec_bearer_token()


# The codec server


def codec_app() -> Any:
    return build_app(payload_codec(ROTATED), TOKEN, [UI], "default")


def as_json(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


def from_json(text: str) -> list[Payload]:
    return list(json_format.Parse(text, Payloads()).payloads)


@pytest.fixture
async def codec_http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=codec_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        yield http


async def sealed_recap() -> list[Payload]:
    return await payload_codec(ONLY_A).encode([plain("recap: we paired on dashboards")])


async def test_the_codec_server_decodes_for_a_bearer_of_the_token(codec_http: httpx.AsyncClient) -> None:
    body = as_json(await sealed_recap())
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Namespace": "default", "Origin": UI}
    for path in ("/decode", "/default/decode"):  # only the last path segment counts
        reply = await codec_http.post(path, content=body, headers={**headers, "Content-Type": "application/json"})
        assert reply.status_code == 200 and reply.headers["access-control-allow-origin"] == UI
        assert from_json(reply.text) == [plain("recap: we paired on dashboards")]

    encoded = await codec_http.post("/encode", content=as_json([plain("new")]), headers=headers)
    (sealed_payload,) = from_json(encoded.text)
    assert sealed_payload.metadata[KEY_ID] == b"key-b"
    assert await payload_codec(ROTATED).decode([sealed_payload]) == [plain("new")]


async def test_the_codec_server_refuses_anyone_without_the_token(codec_http: httpx.AsyncClient) -> None:
    body = as_json(await sealed_recap())
    refused = ["", "Bearer wrong-token", TOKEN, f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]
    for authorization in refused:
        headers = {"Origin": UI, "Authorization": authorization} if authorization else {"Origin": UI}
        reply = await codec_http.post("/decode", content=body, headers=headers)
        assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
        assert b"dashboards" not in reply.content and "payloads" not in reply.text


async def test_the_codec_server_answers_bad_requests_without_payloads(codec_http: httpx.AsyncClient) -> None:
    token = {"Authorization": f"Bearer {TOKEN}"}
    other_namespace = await codec_http.post(
        "/decode", content=as_json(await sealed_recap()), headers={**token, "X-Namespace": "elsewhere"}
    )
    assert other_namespace.status_code == 403
    assert (await codec_http.post("/decode", content="{not json", headers=token)).status_code == 400
    key_a_retired = build_app(payload_codec(ONLY_B), TOKEN, [UI], "default")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=key_a_retired), base_url="http://codec") as http:
        reply = await http.post("/decode", content=as_json(await sealed_recap()), headers=token)
    assert reply.status_code == 400 and "'key-a'" in reply.json()["message"]
    assert (await codec_http.post("/status", content="{}", headers=token)).status_code == 404


async def test_the_ui_origin_may_ask_first_and_other_origins_may_not(codec_http: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
    }
    allowed = await codec_http.options("/decode", headers={"Origin": UI, **preflight})  # no token: browsers ask first
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == UI
    assert {"authorization", "content-type", "x-namespace"} <= {
        h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")
    }
    assert "POST" in allowed.headers["access-control-allow-methods"]

    elsewhere = await codec_http.options("/decode", headers={"Origin": "https://evil.example", **preflight})
    assert elsewhere.status_code == 400 and "access-control-allow-origin" not in elsewhere.headers
    # Even with the token, a page from another origin gets no CORS grant, so its browser withholds the answer.
    reply = await codec_http.post(
        "/decode",
        content=as_json(await sealed_recap()),
        headers={"Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"},
    )
    assert "access-control-allow-origin" not in reply.headers


def set_cookie(reply: httpx.Response) -> "Morsel[str]":
    jar: SimpleCookie = SimpleCookie()
    jar.load(reply.headers["set-cookie"])
    return jar[SESSION_COOKIE]


async def sign_in(http: httpx.AsyncClient, token: str = TOKEN) -> httpx.Response:
    return await http.post("/signin", data={"token": token})


async def test_signing_in_with_the_token_sets_a_cookie_that_proves_it_without_holding_it(
    codec_http: httpx.AsyncClient,
) -> None:
    page = await codec_http.get("/signin")
    assert page.status_code == 200 and 'name="token"' in page.text and 'type="password"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert (await codec_http.get("/")).headers["location"] == "/signin"

    for wrong in ["", "wrong-token", TOKEN[:-1], f"{TOKEN}x", f"Bearer {TOKEN}"]:
        refused = await sign_in(codec_http, wrong)
        assert refused.status_code == 401 and "set-cookie" not in refused.headers
        assert "not the codec server&#x27;s token" in refused.text

    signed_in = await sign_in(codec_http, f" {TOKEN}\n")  # pasted with stray whitespace
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/signin"
    cookie = set_cookie(signed_in)
    assert cookie["httponly"] and cookie["samesite"].lower() == "strict" and cookie["path"] == "/"
    assert cookie["max-age"] == str(SESSION_HOURS * 3600) and not cookie["secure"]  # plain http in development
    assert TOKEN not in signed_in.headers["set-cookie"]
    status = await codec_http.get("/signin", headers={"Cookie": f"{SESSION_COOKIE}={cookie.value}"})
    assert "Signed in until" in status.text and 'action="/signout"' in status.text

    over_tls = httpx.AsyncClient(transport=httpx.ASGITransport(app=codec_app()), base_url="https://codec")
    async with over_tls:
        assert set_cookie(await sign_in(over_tls))["secure"]


async def test_the_sign_in_cookie_decodes_for_the_ui_origin_only(codec_http: httpx.AsyncClient) -> None:
    cookie = set_cookie(await sign_in(codec_http)).value
    body = as_json(await sealed_recap())

    async def decode(cookie_value: str, origin: str | None = UI) -> httpx.Response:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie_value}", "X-Namespace": "default"}
        return await codec_http.post(
            "/decode", content=body, headers={**headers, **({"Origin": origin} if origin else {})}
        )

    served = await decode(cookie)
    assert served.status_code == 200 and from_json(served.text) == [plain("recap: we paired on dashboards")]
    assert (served.headers["access-control-allow-origin"], served.headers["access-control-allow-credentials"]) == (
        UI,
        "true",
    )
    encoded = await codec_http.post(
        "/encode", content=as_json([plain("new")]), headers={"Cookie": f"{SESSION_COOKIE}={cookie}", "Origin": UI}
    )
    assert encoded.status_code == 200 and from_json(encoded.text)[0].metadata[KEY_ID] == b"key-b"

    nine_hours_ago = UiSessions(TOKEN)
    nine_hours_ago.signer.get_timestamp = lambda: int(time.time()) - 9 * 3600  # type: ignore[method-assign]
    label, stamp, signature = cookie.split(".")
    refused = {
        "from another origin": await decode(cookie, "https://evil.example"),
        "without an Origin (curl, a script)": await decode(cookie, None),
        "expired": await decode(nine_hours_ago.issue()),
        "signed with an earlier token": await decode(UiSessions("an-earlier-token-0123456789").issue()),
        "altered": await decode(f"{label}.{stamp}.{signature[:-2]}AA"),
        "the token itself": await decode(TOKEN),
        "empty": await decode(""),
    }
    assert {why: r.status_code for why, r in refused.items()} == {why: 401 for why in refused}
    assert all(b"dashboards" not in r.content for r in refused.values())


async def test_signing_out_clears_the_cookie_and_ends_its_session_for_good(tmp_path: Path) -> None:
    """A copy of the cookie kept from before sign-out decodes nothing, even after the codec server restarts; a new
    sign-in from the same browser ends the session it had."""
    ended = tmp_path / "codec-sessions-ended"
    body = as_json(await sealed_recap())

    def started() -> httpx.AsyncClient:
        app = build_app(payload_codec(ROTATED), TOKEN, [UI], "default", ended_sessions=ended)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec")

    async def decodes(http: httpx.AsyncClient, cookie: str) -> int:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-Namespace": "default", "Origin": UI}
        return (await http.post("/decode", content=body, headers=headers)).status_code

    async with started() as codec_http:
        kept = set_cookie(await sign_in(codec_http)).value
        assert await decodes(codec_http, kept) == 200
        signed_out = await codec_http.post("/signout", headers={"Cookie": f"{SESSION_COOKIE}={kept}"})
        assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin"
        cleared = set_cookie(signed_out)
        assert cleared.value == "" and cleared["max-age"] == "0"
        assert await decodes(codec_http, kept) == 401

        earlier = set_cookie(await sign_in(codec_http)).value
        again = await codec_http.post(
            "/signin", data={"token": TOKEN}, headers={"Cookie": f"{SESSION_COOKIE}={earlier}"}
        )
        assert await decodes(codec_http, set_cookie(again).value) == 200
        assert await decodes(codec_http, earlier) == 401
    async with started() as restarted:
        assert await decodes(restarted, kept) == 401 and await decodes(restarted, earlier) == 401


async def test_a_chunked_upload_past_the_body_limit_is_cut_off_at_the_limit(codec_http: httpx.AsyncClient) -> None:
    """A chunked request declares no length: the limit holds on what is read, and reading stops there."""
    sent = []

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        for _ in range(50):
            sent.append(1)
            yield b"x" * (1024 * 1024)

    answer = await codec_http.post("/decode", content=fifty_megabytes(), headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 413 and "too many payloads" in answer.text
    assert len(sent) <= MAX_BODY // (1024 * 1024) + 2  # stopped at the limit, not after all fifty


async def test_credentials_are_granted_to_the_exact_ui_origins_and_never_to_any_origin(
    codec_http: httpx.AsyncClient,
) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-namespace"}
    allowed = await codec_http.options("/decode", headers={"Origin": UI, **preflight})
    assert allowed.status_code == 200
    assert (allowed.headers["access-control-allow-origin"], allowed.headers["access-control-allow-credentials"]) == (
        UI,
        "true",
    )
    elsewhere = await codec_http.options("/decode", headers={"Origin": "https://evil.example", **preflight})
    assert elsewhere.status_code == 400 and "access-control-allow-origin" not in elsewhere.headers
    for wildcard in ("*", "null"):
        with pytest.raises(ValueError, match="exact origins"):
            build_app(payload_codec(ROTATED), TOKEN, [UI, wildcard], "default")


async def test_the_temporal_cli_reads_a_history_through_the_codec_server(dev_env: WorkflowEnvironment) -> None:
    """End to end on a real HTTP server: Temporal's own CLI, given the endpoint and the token, shows plain text.

    On the dev server: on the time-skipping one, a workflow that no worker ever picked up stopped time from
    skipping in the tests after it, even once terminated.
    """
    client = sealed_client(dev_env, ONLY_A)
    marker = f"purpose-{uuid.uuid4().hex}"
    program_spec = spec(purpose=f"{marker}: newer colleagues teach senior ones")
    handle = await client.start_workflow(  # no worker needed: the started event holds the sealed input
        ProgramWorkflow.run,
        ProgramInput(spec=program_spec, roster=roster(1)),
        id=f"cli-{uuid.uuid4().hex[:8]}",
        task_queue=f"nobody-{uuid.uuid4().hex[:8]}",
        search_attributes=search.initial(program_spec.program_id, "recruitment", "program"),
    )
    server = uvicorn.Server(uvicorn.Config(codec_app(), host="127.0.0.1", port=0, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        endpoint = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        async with httpx.AsyncClient() as http:  # the real server refuses too
            assert (await http.post(f"{endpoint}/decode", content="{}")).status_code == 401
        cli = binary("temporal")
        command = [cli, "workflow", "show", "-w", handle.id, "-o", "json"]
        command += ["--address", client.service_client.config.target_host, "--namespace", client.namespace]
        command += ["--codec-endpoint", endpoint, "--codec-auth", f"Bearer {TOKEN}"]
        shown = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
        out, _ = await asyncio.wait_for(shown.communicate(), timeout=60)
    finally:
        server.should_exit = True
        await serving
        await handle.terminate("seen")
    raw = History(events=(await handle.fetch_history()).events)
    assert marker.encode() not in raw.SerializeToString()
    started = json_format.Parse(out, History(), ignore_unknown_fields=True).events[0]
    (shown_input,) = started.workflow_execution_started_event_attributes.input.payloads
    assert shown_input.metadata["encoding"] == b"json/plain" and marker.encode() in shown_input.data
