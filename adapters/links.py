"""Sign-in links: signed, expiring and single-use, one per message, for one person in one program.

The worker signs a link into every notice it sends; the portal checks it. Both read the same signing key from
the settings. A link carries no secret of the pair: only who it is for, the program, and which prompt the
message was about (so the portal can open it first).
"""

import secrets
from datetime import UTC, datetime
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel, ValidationError
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from adapters.store.tables import used_links

SALT = "flipside-sign-in-link"


class LinkRefused(Exception):
    """A link that cannot sign anyone in; str() says why, in words for the person holding it."""


class SignIn(BaseModel):
    email: str
    program_id: str
    prompt_id: str | None = None
    nonce: str


class LinkSigner:
    def __init__(self, key: str, portal_url: str, ttl_seconds: int) -> None:
        self.serializer = URLSafeTimedSerializer(key, salt=SALT)
        self.portal_url = portal_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    def token(self, email: str, program_id: str, prompt_id: str | None = None) -> str:
        grant = SignIn(email=email, program_id=program_id, prompt_id=prompt_id, nonce=secrets.token_urlsafe(16))
        return self.serializer.dumps(grant.model_dump(exclude_none=True))

    def link(self, email: str, program_id: str, prompt_id: str | None = None) -> str:
        return f"{self.portal_url}/signin?token={quote(self.token(email, program_id, prompt_id))}"

    def read(self, token: str) -> SignIn:
        """The grant in a token whose signature and age are good; it may still have been used (see LinkBook)."""
        try:
            data = self.serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired as error:
            raise LinkRefused("This sign-in link has expired. Use the link in your most recent message.") from error
        except BadSignature as error:
            raise LinkRefused("This sign-in link is not valid. Use the link exactly as it came.") from error
        try:  # signed with our key yet not a grant: refused like a forgery, never an error page
            return SignIn.model_validate(data)
        except ValidationError as error:
            raise LinkRefused("This sign-in link is not valid. Use the link exactly as it came.") from error


class LinkBook:
    """Remembers the links already used, in the SQL store, so each works once even across portal processes."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def use(self, grant: SignIn) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(used_links).values(nonce=grant.nonce, email=grant.email, used_at=datetime.now(UTC)))
        except IntegrityError as error:
            raise LinkRefused(
                "This sign-in link has already been used. Each link works once; use the one in your most "
                "recent message."
            ) from error
