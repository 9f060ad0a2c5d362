r"""The codec server: decrypts payloads for an authorised engineer's Temporal UI or CLI, and nobody else.

    .venv/bin/python codec_server.py      # http://127.0.0.1:8081 (FLIPSIDE_CODEC_HOST, FLIPSIDE_CODEC_PORT)

Temporal's remote codec protocol: POST <anything>/encode or <anything>/decode with `{"payloads": [...]}` as
protobuf JSON, answered in the same form; the final path segment alone picks the operation. Every POST needs
`Authorization: Bearer <FLIPSIDE_CODEC_TOKEN>` (in development, the token kept in .flipside/codec.token).
CORS lets the Temporal UI's origin (FLIPSIDE_CODEC_UI_ORIGINS) call it; a browser's preflight carries no
token, so it is answered without one, and it never returns a payload.

The Temporal UI (2.54) sends an Authorization header only when it signs people in itself (OIDC), its codec
setting "pass access token" is on and the endpoint is https; the token is then the person's OIDC access token,
not this shared one. Until this server verifies such tokens (or a proxy in front of it adds the header), the
UI shows payloads still encrypted, and the CLI reads them:

    temporal workflow show -w <id> --codec-endpoint http://127.0.0.1:8081 \
        --codec-auth "Bearer $(cat .flipside/codec.token)"
"""

import hmac
from collections.abc import Sequence

import structlog
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from activities.codec import payload_codec
from settings import Settings, configure_logging

log = structlog.get_logger()
MAX_BODY = 16 * 1024 * 1024  # bytes; a request holds a few payloads of at most 2 MiB each
JSON = "application/json"


def build_app(codec: PayloadCodec, token: str, ui_origins: Sequence[str], namespace: str) -> FastAPI:
    """The ASGI app: `codec` applied for holders of `token`, callable from the browser at `ui_origins`."""
    expected = token.encode()
    app = FastAPI(title="Flipside codec server", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(ui_origins),
        allow_methods=["POST"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        max_age=600,
    )

    @app.post("/{path:path}")
    async def convert(path: str, request: Request) -> Response:
        operation = path.rstrip("/").rsplit("/", 1)[-1]
        client = request.client.host if request.client else "?"
        if operation not in ("encode", "decode"):
            return _error(404, "not a codec endpoint: POST .../encode or .../decode")
        if not _bearer_matches(request.headers.get("authorization", ""), expected):
            log.warning("codec request refused", operation=operation, client=client)
            return _error(401, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
        asked = request.headers.get("x-namespace")
        if asked and asked != namespace:
            return _error(403, f"this codec server serves namespace {namespace!r}")
        if int(request.headers.get("content-length") or 0) > MAX_BODY:
            return _error(413, "too many payloads in one request")
        try:
            payloads = json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as error:
            return _error(400, f"not Payloads as protobuf JSON: {error}")
        try:
            codec_call = codec.decode if operation == "decode" else codec.encode
            converted = Payloads(payloads=await codec_call(payloads.payloads))
        except Exception as error:  # the protocol answers a codec failure (an unknown key, say) with 400
            log.warning("codec request failed", operation=operation, client=client, error=type(error).__name__)
            return _error(400, str(error))
        log.info("codec request", operation=operation, payloads=len(converted.payloads), client=client)
        return Response(json_format.MessageToJson(converted), media_type=JSON)

    return app


def _bearer_matches(header: str, expected: bytes) -> bool:
    scheme, _, presented = header.strip().partition(" ")
    # Constant time, so the token cannot be guessed byte by byte from response times.
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), expected)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"message": message}, status_code=status, headers=headers)


def app_from_settings(settings: Settings) -> FastAPI:
    origins = [o.strip() for o in settings.codec_ui_origins.split(",") if o.strip()]
    codec = payload_codec(settings.codec_keyring())
    return build_app(codec, settings.codec_bearer_token(), origins, settings.namespace)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    app = app_from_settings(settings)
    log.info(
        "codec server starting",
        url=f"http://{settings.codec_host}:{settings.codec_port}",
        ui_origins=settings.codec_ui_origins,
        token="FLIPSIDE_CODEC_TOKEN" if settings.codec_token else str(settings.codec_token_path),
    )
    uvicorn.run(app, host=settings.codec_host, port=settings.codec_port, log_level="warning")


if __name__ == "__main__":
    main()
