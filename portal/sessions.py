"""Session cookies and CSRF tokens.

A session is a cookie signed with the installation's key (itsdangerous), so any portal process can read it. It
always holds a random CSRF token; once the person has signed in with a link it also holds their email, program
and a session id that the SQL store knows (`SessionBook`): signing out ends that session for good, and so does
signing in again with a newer link, so an old cookie opens nothing even before it expires. Every POST form
carries the token in a hidden field and the portal compares it with the cookie's in constant time before
reading anything else.
"""

import hmac
import secrets
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, insert, select, update
from starlette.requests import Request
from starlette.responses import Response

from adapters.store.tables import portal_sessions

SESSION_COOKIE = "flipside_session"
SESSION_SALT = "flipside-session"  # never the links' salt: a link token is not a session, and the reverse
SESSION_HOURS = 12
CSRF_FIELD = "csrf_token"


ANSWERS_AWAITED = 3  # the latest answers a session waits to see in the record: the cookie stays small


class Answered(BaseModel):
    """An answer the record may not show yet: its prompt, and the event that showed the prompt before it."""

    workflow_id: str
    prompt_id: str
    shown_as: int


class Session(BaseModel):
    csrf: str
    email: str | None = None
    program_id: str | None = None
    sid: str | None = None  # the SessionBook's id of a signed-in session
    # Answers taken since the last page: the next page waits (bounded) for the record to show them (web.viewer).
    answered: list[Answered] = []

    def after_answer(self, answered: Answered) -> "Session":
        return self.model_copy(update={"answered": [*self.answered, answered][-ANSWERS_AWAITED:]})

    @property
    def signed_in(self) -> bool:
        return self.email is not None and self.program_id is not None


def new_session(email: str | None = None, program_id: str | None = None, sid: str | None = None) -> Session:
    """A fresh session with a new CSRF token: made on the sign-in page, and again once signed in."""
    return Session(csrf=secrets.token_urlsafe(32), email=email, program_id=program_id, sid=sid)


class SessionBook:
    """The signed-in sessions the portal will still honour, in the SQL store, shared by every portal process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, email: str, program_id: str) -> str:
        """A new session for a person who signed in with a link; the person's earlier sessions end with it."""
        sid, now = secrets.token_urlsafe(32), datetime.now(UTC)
        person = (portal_sessions.c.email == email) & (portal_sessions.c.program_id == program_id)
        with self.engine.begin() as conn:
            conn.execute(
                update(portal_sessions).where(person, portal_sessions.c.ended_at.is_(None)).values(ended_at=now)
            )
            conn.execute(insert(portal_sessions).values(sid=sid, email=email, program_id=program_id, started_at=now))
        return sid

    def end(self, sid: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(portal_sessions)
                .where(portal_sessions.c.sid == sid, portal_sessions.c.ended_at.is_(None))
                .values(ended_at=datetime.now(UTC))
            )

    def live(self, session: Session) -> bool:
        """Whether a signed-in session is still honoured: started here, and neither signed out nor replaced."""
        if session.sid is None:
            return False
        query = select(portal_sessions.c.email, portal_sessions.c.program_id).where(
            portal_sessions.c.sid == session.sid, portal_sessions.c.ended_at.is_(None)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return row is not None and (row.email, row.program_id) == (session.email, session.program_id)


def same_token(expected: str, submitted: str) -> bool:
    return hmac.compare_digest(expected.encode(), submitted.encode())


class Sessions:
    def __init__(self, key: str, secure: bool, max_age_seconds: int = SESSION_HOURS * 3600) -> None:
        self.serializer = URLSafeTimedSerializer(key, salt=SESSION_SALT)
        self.secure = secure
        self.max_age = max_age_seconds

    def read(self, request: Request) -> Session | None:
        """The session in the request's cookie; None when there is none, or it is forged or too old."""
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        try:
            return Session.model_validate(self.serializer.loads(cookie, max_age=self.max_age))
        except (BadSignature, ValidationError):
            return None

    def save(self, response: Response, session: Session) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            self.serializer.dumps(session.model_dump(exclude_none=True, exclude_defaults=True)),
            max_age=self.max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=self.secure, httponly=True, samesite="lax")

    @staticmethod
    def csrf_ok(session: Session | None, submitted: object) -> bool:
        return session is not None and isinstance(submitted, str) and same_token(session.csrf, submitted)
