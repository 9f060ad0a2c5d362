r"""The codec server: decrypts payloads for an authorised engineer's Temporal UI or CLI, and nobody else.

    .venv/bin/python codec_server.py      # http://127.0.0.1:8081 (FLIPSIDE_CODEC_HOST, FLIPSIDE_CODEC_PORT)

Temporal's remote codec protocol: POST <anything>/encode or <anything>/decode with `{"payloads": [...]}` as
protobuf JSON, answered in the same form; the final path segment alone picks the operation. The credential is
the bearer token FLIPSIDE_CODEC_TOKEN (in development, the token kept in .flipside/codec.token). A request
shows it either as `Authorization: Bearer <token>` (the CLI, scripts) or with the sign-in cookie this server
sets once the token was typed into GET /signin (the Temporal UI); anything else gets 401.

Why a cookie: the Temporal UI (2.54) never sends a static bearer token. It adds Authorization only for people
it signs in itself (OIDC, "Pass the user access token", https only), and that is their OIDC token, not this
one. It can send cookies: with "Include cross-origin credentials" its fetch uses `credentials: "include"`.
The cookie holds an expiring signature made with the token as key (never the token), is HttpOnly and
SameSite=Strict, and is accepted only on requests from a UI origin (FLIPSIDE_CODEC_UI_ORIGINS), which CORS
lets read the answer with credentials (their exact origin, never "*").

Reading payloads in the Temporal UI, once per browser (the UI at http://localhost:8233, this server on 8081):

1. Open http://localhost:8081/signin and paste the token from .flipside/codec.token. It lasts 8 hours; "Sign
   out" on that page ends it. Say `localhost` for the UI, this page and the endpoint alike, as `make run`
   prints them: the cookie belongs to the host name it was set on, and SameSite keeps it off requests made
   from a page at 127.0.0.1 (ports do not matter: localhost:8233 and localhost:8081 are one site).
2. In the Temporal UI, click the Codec Server button (a pair of glasses, in the top bar beside the time zone).
   In its dialog choose "Use my browser setting and ignore Cluster-level setting.", type the endpoint
   http://localhost:8081 (the one `make run` gives the UI), turn on "Include cross-origin credentials" and
   click Apply. The cluster-level setting does not send the cookie: `temporal server start-dev` has no flag for
   it (its UI reports IncludeCredentials false); the temporalio/ui image (docker-compose.yml) reads
   TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true. The UI keeps the browser setting in localStorage, for its origin:
   `overrideRemoteCodecConfiguration` true, `endpoint` "http://localhost:8081", `includeCredentials` true
   (JSON values), so a script can set those three keys instead.

Workflow pages then show payloads decrypted; without the cookie the UI gets 401 and shows them sealed. The CLI
needs no sign-in:

    temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:8081 \
        --codec-auth "Bearer $(cat .flipside/codec.token)"

Cookies are not kept apart by port: on localhost, other local web apps that the browser visits (the portal on
8000) receive this cookie too, and one of them could replay it here until it expires. It opens nothing else.
"""

import hashlib
import hmac
import html
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from google.protobuf import json_format
from itsdangerous import BadSignature, TimestampSigner
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

import bootstrap
from settings import Settings, configure_logging, exit_with, stop_is_success

log = structlog.get_logger()
MAX_BODY = 16 * 1024 * 1024  # bytes; a request holds a few payloads of at most 2 MiB each
MAX_FORM = 4 * 1024  # bytes; the sign-in form holds one token
JSON = "application/json"
SESSION_COOKIE = "flipside_codec"  # not the portal's "flipside_session": localhost cookies are shared across ports
SESSION_HOURS = 8  # a working day; then the engineer signs in again
_SESSION_LABEL = b"temporal-ui-codec-session"  # what the cookie signs: a fixed label, no identity, no token
_SESSION_SALT = "flipside-codec-ui-session"  # keeps these signatures apart from any other use of the token
_PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


class UiSessions:
    """Sign-in cookies that prove their holder typed the bearer token, without containing it.

    The value is a fixed label with a random session id, a timestamp and an HMAC-SHA256 keyed by the token
    (itsdangerous): nobody makes one without the token, one stops working after `hours`, and changing the token
    signs every browser out. Signing out ends the session here too, not only in the browser: its id is listed in
    `ended` (a file kept across restarts, when given), so a copy of the cookie opens nothing afterwards.
    """

    def __init__(self, token: str, hours: int = SESSION_HOURS, ended: Path | None = None) -> None:
        self.signer = TimestampSigner(token, salt=_SESSION_SALT, digest_method=hashlib.sha256)
        self.max_age = hours * 3600
        self.ended_path = ended
        self.ended = set(ended.read_text().split()) if ended is not None and ended.exists() else set()

    def issue(self) -> str:
        return self.signer.sign(_SESSION_LABEL + b":" + secrets.token_hex(16).encode()).decode()

    def _session_id(self, cookie: str | None) -> tuple[str, datetime] | None:
        """The session id and signing time of a valid cookie; None for a missing, forged, expired or foreign one."""
        if not cookie:
            return None
        try:  # the signature is compared in constant time; SignatureExpired is a BadSignature
            value, signed_at = self.signer.unsign(cookie, max_age=self.max_age, return_timestamp=True)
        except BadSignature:
            return None
        label, _, sid = value.partition(b":")
        if label != _SESSION_LABEL or not sid or sid.decode() in self.ended:
            return None
        return sid.decode(), signed_at

    def expires(self, cookie: str | None) -> datetime | None:
        """When a valid cookie stops working; None for a missing, forged, expired, foreign or ended one."""
        found = self._session_id(cookie)
        return None if found is None else datetime.fromtimestamp(found[1].timestamp() + self.max_age, UTC)

    def end(self, cookie: str | None) -> None:
        """End the cookie's session for good (sign-out, or a new sign-in from the same browser)."""
        found = self._session_id(cookie)
        if found is None:
            return
        self.ended.add(found[0])
        if self.ended_path is not None:
            self.ended_path.parent.mkdir(parents=True, exist_ok=True)
            with self.ended_path.open("a") as ended:
                ended.write(found[0] + "\n")


def build_app(
    codec: PayloadCodec,
    token: str,
    ui_origins: Sequence[str],
    namespace: str,
    session_hours: int = SESSION_HOURS,
    ended_sessions: Path | None = None,
) -> FastAPI:
    """The ASGI app: `codec` applied for holders of `token`, callable from the browser at `ui_origins`."""
    if any(origin.strip() in ("*", "null") for origin in ui_origins):
        # With credentials allowed, a wildcard would hand every site's pages the signed-in engineer's payloads.
        raise ValueError("FLIPSIDE_CODEC_UI_ORIGINS must list the Temporal UI's exact origins, not '*' or 'null'")
    expected = token.encode()
    origins = frozenset(ui_origins)
    sessions = UiSessions(token, session_hours, ended_sessions)
    app = FastAPI(title="Flipside codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(ui_origins),
        allow_credentials=True,  # the UI's "Include cross-origin credentials" sends the sign-in cookie
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        max_age=600,
    )

    _sign_in_routes(app, sessions, expected, session_hours)
    _codec_route(app, codec, expected, sessions, origins, namespace)
    return app


def _sign_in_routes(app: FastAPI, sessions: UiSessions, expected: bytes, session_hours: int) -> None:
    """The sign-in page and form that give a browser (the Temporal UI's) a session cookie for the token."""

    @app.get("/")
    async def home() -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.get("/signin")
    async def signin_page(request: Request) -> Response:
        return _signin_page(sessions.expires(request.cookies.get(SESSION_COOKIE)))

    # CSRF: this form needs no anti-forgery token. A cross-site post can only set the cookie by submitting the
    # right bearer token, which the attacker would then already hold; the cookie grants nobody more than the
    # token does, carries no identity to confuse, and SameSite=Strict keeps it off every cross-site request.
    @app.post("/signin")
    async def signin(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if int(request.headers.get("content-length") or 0) > MAX_FORM:
            return _error(413, "the sign-in form holds one token")
        presented = (await request.form()).get("token")
        if not isinstance(presented, str) or not hmac.compare_digest(presented.strip().encode(), expected):
            log.warning("codec sign-in refused", client=client)
            return _signin_page(None, status=401, problem="That is not the codec server's token.")
        log.info("codec sign-in", client=client, hours=session_hours)
        sessions.end(request.cookies.get(SESSION_COOKIE))  # this browser's earlier session, if any
        signed_in = RedirectResponse("/signin", status_code=303)
        signed_in.set_cookie(
            SESSION_COOKIE,
            sessions.issue(),
            max_age=sessions.max_age,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,  # the UI's scripts never need to read it, so no injected script can either
            samesite="strict",
        )
        return signed_in

    @app.post("/signout")
    async def signout(request: Request) -> Response:
        sessions.end(request.cookies.get(SESSION_COOKIE))
        signed_out = RedirectResponse("/signin", status_code=303)
        signed_out.delete_cookie(
            SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
        )
        return signed_out


def _codec_route(
    app: FastAPI, codec: PayloadCodec, expected: bytes, sessions: UiSessions, origins: frozenset[str], namespace: str
) -> None:
    """POST .../encode and .../decode, for holders of the token or a signed-in UI session."""

    @app.post("/{path:path}")
    async def convert(path: str, request: Request) -> Response:
        operation = path.rstrip("/").rsplit("/", 1)[-1]
        client = request.client.host if request.client else "?"
        if operation not in ("encode", "decode"):
            return _error(404, "not a codec endpoint: POST .../encode or .../decode")
        via = _credential(request, expected, sessions, origins)
        if via is None:
            log.warning("codec request refused", status=401, operation=operation, client=client)
            message = "a bearer token is required (or, for the Temporal UI, sign in at /signin)"
            return _error(401, message, {"WWW-Authenticate": "Bearer"})
        asked = request.headers.get("x-namespace")
        if asked and asked != namespace:
            return _error(403, f"this codec server serves namespace {namespace!r}")
        body = await _body_within(request, MAX_BODY)
        if body is None:
            return _error(413, "too many payloads in one request")
        return await _converted(codec, operation, body, client, via)


async def _converted(codec: PayloadCodec, operation: str, body: bytes, client: str, via: str) -> Response:
    """Payloads as protobuf JSON, encoded or decoded; a codec failure (an unknown key, say) answers 400."""
    try:
        payloads = json_format.Parse(body, Payloads())
    except json_format.ParseError as error:
        return _error(400, f"not Payloads as protobuf JSON: {error}")
    try:
        codec_call = codec.decode if operation == "decode" else codec.encode
        converted = Payloads(payloads=await codec_call(payloads.payloads))
    except Exception as error:
        log.warning("codec request failed", operation=operation, client=client, error=type(error).__name__)
        return _error(400, str(error))
    log.info("codec request", operation=operation, payloads=len(converted.payloads), client=client, via=via)
    return Response(json_format.MessageToJson(converted), media_type=JSON)


async def _body_within(request: Request, limit: int) -> bytes | None:
    """The request's body, or None once it passes `limit` bytes: read as it streams, so a chunked upload (which
    declares no length) is cut off at the limit rather than read whole into memory."""
    if int(request.headers.get("content-length") or 0) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def _credential(request: Request, expected: bytes, sessions: UiSessions, ui_origins: frozenset[str]) -> str | None:
    """How the request proves it holds the token: "bearer", "cookie", or None.

    The cookie counts only on a request from a UI origin: it exists for the UI, and a browser always sends
    Origin on the UI's cross-origin fetch, so nothing else (a form on another local page, a script) rides on it.
    """
    if _bearer_matches(request.headers.get("authorization", ""), expected):
        return "bearer"
    if request.headers.get("origin") in ui_origins and sessions.expires(request.cookies.get(SESSION_COOKIE)):
        return "cookie"
    return None


def _bearer_matches(header: str, expected: bytes) -> bool:
    scheme, _, presented = header.strip().partition(" ")
    # Constant time, so the token cannot be guessed byte by byte from response times.
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def _signin_page(expires: datetime | None, status: int = 200, problem: str = "") -> Response:
    """The sign-in form, or, for a browser already signed in, until when and a sign-out button."""
    if expires is not None:
        until = expires.strftime("%Y-%m-%d %H:%M UTC")
        body = (
            f'<p class="ok">Signed in until {until}. The Temporal UI can decode payloads in this browser once '
            "its codec server setting includes cross-origin credentials.</p>"
            '<form method="post" action="/signout"><button type="submit">Sign out</button></form>'
        )
    else:
        warning = f'<p class="problem" role="alert">{html.escape(problem)}</p>' if problem else ""
        body = (
            f'{warning}<form method="post" action="/signin">'
            '<label for="token">Codec server token (in development: <code>.flipside/codec.token</code>)</label>'
            '<input id="token" name="token" type="password" autocomplete="off" required autofocus>'
            '<button type="submit">Sign in</button></form>'
        )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Flipside codec server: sign in</title><style>"
        "body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#1f2933}"
        "label,input,button{display:block;margin:.5rem 0}input{width:100%;padding:.4rem;font-size:1rem}"
        "button{padding:.4rem 1rem;font-size:1rem}.problem{color:#b42318}.ok{color:#05603a}"
        f"</style></head><body><h1>Codec server</h1>{body}</body></html>"
    )
    headers = {"content-security-policy": _PAGE_CSP, "cache-control": "no-store", "x-frame-options": "DENY"}
    return HTMLResponse(page, status_code=status, headers=headers)


def app_from_settings(settings: Settings) -> FastAPI:
    origins = [o.strip() for o in settings.codec_ui_origins.split(",") if o.strip()]
    codec = bootstrap.codec(settings)
    ended = settings.data_dir / "codec-sessions-ended"
    return build_app(codec, settings.codec_bearer_token(), origins, settings.namespace, ended_sessions=ended)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    app = app_from_settings(settings)
    log.info(
        "codec server starting",
        url=f"http://{settings.codec_host}:{settings.codec_port}",
        signin=f"http://localhost:{settings.codec_port}/signin",
        ui_origins=settings.codec_ui_origins,
        token="FLIPSIDE_CODEC_TOKEN" if settings.codec_token else str(settings.codec_token_path),
    )
    stop_is_success()
    uvicorn.run(app, host=settings.codec_host, port=settings.codec_port, log_level="warning")


if __name__ == "__main__":
    exit_with(main)
