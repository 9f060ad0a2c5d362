"""Settings from the environment, logging set-up and the Temporal client: what every process shares."""

import logging
import os
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
