"""Notices: the messages Flipside sends people, written here so the words live in one place."""

from enum import StrEnum

from pydantic import BaseModel


class NoticeKind(StrEnum):
    PROMPT = "prompt"  # please answer something
    REMINDER = "reminder"
    INFO = "info"  # something happened that concerns you
    ALERT = "alert"  # for coordinators: a pairing needs attention
    REPORT = "report"
    RECOGNITION = "recognition"


class Notice(BaseModel):
    key: str  # idempotency key: workflow id and a business key, stable across retries and continue-as-new
    to: str
    kind: NoticeKind
    subject: str
    body: str
    program_id: str
    pairing_id: str | None = None
    prompt_id: str | None = None
