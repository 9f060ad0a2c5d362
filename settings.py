"""Settings from the environment, logging set-up and the Temporal client: what every process shares."""

import logging
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path

import structlog
from pydantic import BaseModel, Field
from temporalio.client import Client

from activities.codec import Keyring, data_converter


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
    # Payload encryption: `id:base64key,...` (32-byte AES keys) and the id new payloads are sealed with. Keep
    # retired keys listed while histories sealed with them may still be read. Empty: a development key kept in
    # the data folder.
    codec_keys: str = Field(default="", repr=False)
    codec_key_id: str = ""
    # The codec server (codec_server.py), which decodes payloads for the Temporal UI and CLI. Its bearer token;
    # empty: a random token kept in the data folder (development only).
    codec_token: str = Field(default="", repr=False)
    codec_host: str = "127.0.0.1"
    codec_port: int = 8081
    codec_ui_origins: str = "http://localhost:8233,http://127.0.0.1:8233"  # comma-separated; CORS

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
            codec_keys=env.get("FLIPSIDE_CODEC_KEYS", ""),
            codec_key_id=env.get("FLIPSIDE_CODEC_KEY_ID", ""),
            codec_token=env.get("FLIPSIDE_CODEC_TOKEN", ""),
            codec_host=env.get("FLIPSIDE_CODEC_HOST", cls.model_fields["codec_host"].default),
            codec_port=int(env.get("FLIPSIDE_CODEC_PORT", "8081")),
            codec_ui_origins=env.get("FLIPSIDE_CODEC_UI_ORIGINS", cls.model_fields["codec_ui_origins"].default),
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
        return self.secret_key or _kept_once(self.data_dir / "secret.key", lambda: secrets.token_urlsafe(32))

    def codec_keyring(self) -> Keyring:
        """The keys payloads are sealed and opened with: FLIPSIDE_CODEC_KEYS, or a development key kept in the
        data folder, shared by every process of one installation (worker, starter, demo, portal, codec server).
        """
        if self.codec_keys:
            return Keyring.parse(self.codec_keys, self.codec_key_id)
        if self.codec_key_id:
            raise ValueError("FLIPSIDE_CODEC_KEY_ID is set but FLIPSIDE_CODEC_KEYS is empty")
        return Keyring.parse(_kept_once(self.data_dir / "codec.keys", lambda: Keyring.generate().serialise()))

    def codec_bearer_token(self) -> str:
        """The codec server's bearer token: FLIPSIDE_CODEC_TOKEN, or one made once and kept in the data folder."""
        token = self.codec_token or _kept_once(self.codec_token_path, lambda: secrets.token_urlsafe(32))
        if len(token) < 16:
            raise ValueError("FLIPSIDE_CODEC_TOKEN is too short: use at least 16 random characters")
        return token

    @property
    def codec_token_path(self) -> Path:
        return self.data_dir / "codec.token"


def _kept_once(path: Path, make: Callable[[], str]) -> str:
    """A secret made once and kept in a file only its owner reads.

    Written whole to a private temporary file, then linked into place: the link fails if the file exists, so
    when the worker and the demo start together one value wins, and nobody reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(make())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


def _stderr_logger(*_: object) -> structlog.PrintLogger:
    # sys.stderr as it is when a line is written, not when logging was set up: a test runner swaps it per test
    # and closes the old one, and a logger holding a closed stream would fail every activity that logs.
    return structlog.PrintLogger(sys.stderr)


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
        logger_factory=_stderr_logger,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


async def connect(settings: Settings) -> Client:
    """A client whose payloads are encrypted; a worker built on it reads and writes the same way."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.namespace,
        data_converter=data_converter(settings.codec_keyring()),
    )
