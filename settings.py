"""Settings from the environment, logging set-up and the Temporal client: what every process shares."""

import logging
import os
import secrets
import sys
from pathlib import Path

import structlog
from pydantic import BaseModel
from temporalio.client import Client

from activities.codec import DATA_CONVERTER


class Settings(BaseModel):
    temporal_address: str = "localhost:7233"
    namespace: str = "default"
    task_queue: str = "flipside"
    data_dir: Path = Path(".flipside")
    log_format: str = "console"  # "json" in production
    database_url: str = ""  # empty: a SQLite file in the data folder
    # Notices: "file" writes the outbox file (the default for `make run`); "email" sends through SMTP.
    notify: str = "file"
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_tls: str = "none"  # "none", "starttls" or "tls"
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "Flipside <flipside@localhost>"
    # The portal: where links in notices point, and the key that signs links and session cookies.
    portal_url: str = "http://localhost:8000"
    secret_key: str = ""  # empty: a random key kept in the data folder (development only)
    link_ttl_hours: int = 14 * 24

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            temporal_address=env.get("TEMPORAL_ADDRESS", cls.model_fields["temporal_address"].default),
            namespace=env.get("TEMPORAL_NAMESPACE", "default"),
            task_queue=env.get("TEMPORAL_TASK_QUEUE", "flipside"),
            data_dir=Path(env.get("FLIPSIDE_DATA_DIR", ".flipside")),
            log_format=env.get("FLIPSIDE_LOG_FORMAT", "console"),
            database_url=env.get("DATABASE_URL", ""),
            notify=env.get("FLIPSIDE_NOTIFY", "file"),
            smtp_host=env.get("SMTP_HOST", "localhost"),
            smtp_port=int(env.get("SMTP_PORT", "25")),
            smtp_tls=env.get("SMTP_TLS", "none"),
            smtp_username=env.get("SMTP_USERNAME", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            mail_from=env.get("FLIPSIDE_MAIL_FROM", cls.model_fields["mail_from"].default),
            portal_url=env.get("FLIPSIDE_PORTAL_URL", cls.model_fields["portal_url"].default),
            secret_key=env.get("FLIPSIDE_SECRET_KEY", ""),
            link_ttl_hours=int(env.get("FLIPSIDE_LINK_TTL_HOURS", str(14 * 24))),
        )

    @property
    def outbox_path(self) -> Path:
        return self.data_dir / "outbox.jsonl"

    @property
    def database(self) -> str:
        """SQLAlchemy URL of the program record: DATABASE_URL, or a SQLite file that needs no set-up."""
        return self.database_url or f"sqlite:///{self.data_dir / 'flipside.db'}"

    @property
    def snapshots_dir(self) -> Path:
        return self.data_dir / "snapshots"

    def signing_key(self) -> str:
        """The key of links and sessions: FLIPSIDE_SECRET_KEY, or one made once and kept in the data folder.

        Every process of one installation (worker, portal) must share it: the worker signs the links that the
        portal checks.
        """
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # exclusive create: when the worker and the portal start together, one key wins
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
                handle.write(secrets.token_urlsafe(32))
        except FileExistsError:
            pass
        return path.read_text(encoding="utf-8").strip()


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Readable console lines for people in development, one JSON object per line in production."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if log_format == "json" else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


async def connect(settings: Settings) -> Client:
    return await Client.connect(settings.temporal_address, namespace=settings.namespace, data_converter=DATA_CONVERTER)
