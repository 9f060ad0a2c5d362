"""Serve the portal: `python -m portal [--host H] [--port P]`.

Host and port default to those of FLIPSIDE_PORTAL_URL (http://localhost:8000), the address the links in
messages point at; behind a proxy, pass --host 0.0.0.0. The program record's schema is brought up to date first
(the same migrations the worker runs), so the portal can record used links even before a worker has started.
"""

import argparse
import asyncio
from urllib.parse import urlsplit

import structlog
import uvicorn
from sqlalchemy.exc import SQLAlchemyError

from adapters.store.sql import SqlEventStore
from bootstrap import connect
from portal.app import create_app
from settings import Settings, configure_logging, exit_with, record_unreachable, stop_is_success

log = structlog.get_logger()


def address(portal_url: str) -> tuple[str, int]:
    parts = urlsplit(portal_url)
    default_port = 443 if parts.scheme == "https" else 80
    return parts.hostname or "localhost", parts.port or default_port


async def serve(settings: Settings, host: str, port: int) -> None:
    try:
        SqlEventStore(settings.database).dispose()  # creates or migrates the record
    except SQLAlchemyError as error:
        raise record_unreachable(settings.database, error) from error
    client = await connect(settings)
    app = create_app(settings, client)
    # No access log: a sign-in URL carries its token in the query string.
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=True)
    log.info("portal.serving", url=settings.portal_url, host=host, port=port, temporal=settings.temporal_address)
    try:
        await uvicorn.Server(config).serve()
    finally:
        app.state.portal.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_format)
    host, port = address(settings.portal_url)
    parser = argparse.ArgumentParser(prog="python -m portal", description="Serve the Flipside portal.")
    parser.add_argument("--host", default=host, help=f"address to listen on (default {host}, from the portal URL)")
    parser.add_argument("--port", type=int, default=port, help=f"port to listen on (default {port})")
    args = parser.parse_args(argv)
    stop_is_success()
    asyncio.run(serve(settings, args.host, args.port))


if __name__ == "__main__":
    exit_with(main)
