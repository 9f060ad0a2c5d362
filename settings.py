"""Settings from the environment, logging set-up and the Temporal client: what every process shares."""

import logging
import os
import re
import secrets
import signal
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import structlog
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from adapters.codec import Keyring


class ProcessError(Exception):
    """Ends a process with one line on stderr and an exit status, without a traceback."""

    status = 1


class UserMistake(ProcessError, ValueError):
    """Something the person running the command can fix: a bad file, a setting, a name already used."""

    status = 2


class Unreachable(ProcessError):
    """Temporal or the program record cannot be reached."""

    status = 1


def safe_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    from sqlalchemy.engine import make_url  # here: most processes that never print a URL need no SQLAlchemy

    return make_url(url).render_as_string(hide_password=True)


def record_unreachable(url: str, error: BaseException) -> Unreachable:
    """The one line for a program record that cannot be reached, from the driver's error."""
    text = str(getattr(error, "orig", None) or error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    return Unreachable(f"cannot reach the program record at {safe_url(url)}: {reason}")


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
            log_format=_one_of("FLIPSIDE_LOG_FORMAT", "console", "json"),
            database_url=env.get("DATABASE_URL", ""),
            notify=_one_of("FLIPSIDE_NOTIFY", "file", "email"),
            smtp_host=env.get("SMTP_HOST", "localhost"),
            smtp_port=_whole_number("SMTP_PORT", 25),
            smtp_tls=_one_of("SMTP_TLS", "none", "starttls", "tls"),
            smtp_username=env.get("SMTP_USERNAME", ""),
            smtp_password=env.get("SMTP_PASSWORD", ""),
            mail_from=env.get("FLIPSIDE_MAIL_FROM", cls.model_fields["mail_from"].default),
            portal_url=env.get("FLIPSIDE_PORTAL_URL", cls.model_fields["portal_url"].default),
            secret_key=env.get("FLIPSIDE_SECRET_KEY", ""),
            link_ttl_hours=_whole_number("FLIPSIDE_LINK_TTL_HOURS", 14 * 24),
            codec_keys=env.get("FLIPSIDE_CODEC_KEYS", ""),
            codec_key_id=env.get("FLIPSIDE_CODEC_KEY_ID", ""),
            codec_token=env.get("FLIPSIDE_CODEC_TOKEN", ""),
            codec_host=env.get("FLIPSIDE_CODEC_HOST", cls.model_fields["codec_host"].default),
            codec_port=_whole_number("FLIPSIDE_CODEC_PORT", 8081),
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
            try:
                return Keyring.parse(self.codec_keys, self.codec_key_id)
            except ValueError as error:
                raise UserMistake(f"FLIPSIDE_CODEC_KEYS: {error}") from error
        if self.codec_key_id:
            raise UserMistake("FLIPSIDE_CODEC_KEY_ID is set but FLIPSIDE_CODEC_KEYS is empty")
        return Keyring.parse(_kept_once(self.data_dir / "codec.keys", lambda: Keyring.generate().serialise()))

    def codec_bearer_token(self) -> str:
        """The codec server's bearer token: FLIPSIDE_CODEC_TOKEN, or one made once and kept in the data folder."""
        token = self.codec_token or _kept_once(self.codec_token_path, lambda: secrets.token_urlsafe(32))
        if len(token) < 16:
            raise UserMistake("FLIPSIDE_CODEC_TOKEN is too short: use at least 16 random characters")
        return token

    @property
    def codec_token_path(self) -> Path:
        return self.data_dir / "codec.token"


def _whole_number(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise UserMistake(f"{name} must be a whole number, not {text!r}")
    return int(text)


def _one_of(name: str, default: str, *others: str) -> str:
    value = os.environ.get(name, "").strip() or default
    if value not in (default, *others):
        raise UserMistake(f"{name} must be one of {', '.join((default, *others))}, not {value!r}")
    return value


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


_EMAIL_IN_TEXT = re.compile(r"[^\s@<>\"'(),;:/]+@[^\s@<>\"'(),;:/]+\.[A-Za-z]{2,}")


def without_addresses(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    """A log processor: no email address reaches a log line, whatever logged it (a notice key names its recipient,
    an SMTP error its mailbox). Logs name programs and pairings by id; people, never."""
    for name, value in event.items():
        if isinstance(value, str) and "@" in value:
            event[name] = _EMAIL_IN_TEXT.sub("<address>", value)
    return event


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
            without_addresses,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
    )
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)


def stop_is_success() -> None:
    """A SIGTERM (`docker stop`, `make stop`) ends the process with status 0: uvicorn shuts down gracefully on it,
    then raises it again, which would otherwise end the process as killed (143)."""

    def stopped(*_: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stopped)


def exit_with(main: Callable[[], int | None]) -> NoReturn:
    """Run a process's `main` and end the process with its status: 0, or the status it returned or exited with.

    The process then ends at once, without the interpreter's teardown: the Temporal SDK's runtime threads can
    abort a normal exit after the work is done ("Fatal Python error: PyGILState_Release", status 134, about 2
    runs in 10 here; temporalio/sdk-python#300). What was printed is flushed first; nothing else is left.
    """
    # What Flipside writes is for its own user only: the outbox holds live sign-in links, the SQLite record and
    # the logs hold the program's people. Files and folders are made without group or world access.
    os.umask(0o077)
    try:
        status = main() or 0
    except ProcessError as error:
        print(f"error: {error}", file=sys.stderr)
        status = error.status
    except SystemExit as stop:  # argparse's usage errors (2) and --help (0), uvicorn's failed start (1)
        status = stop.code if isinstance(stop.code, int) else 0 if stop.code is None else 1
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
    except KeyboardInterrupt:
        status = 130
    except RPCError as error:  # Temporal stopped answering part-way (a timeout, a restart): one line, not a trace
        print(f"error: lost Temporal: {error.message}", file=sys.stderr)
        status = 1
    except BaseException:
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
