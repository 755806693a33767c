"""Bearer-token protection for the routes that write or spend GitHub quota (`API_TOKEN`).

Without `API_TOKEN` every route is open. With it, a protected route answers 401 unless the
request carries `Authorization: Bearer <token>`; the token is compared in constant time and
never logged or echoed.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import HTTPException, Request, status

from octorec.settings import Settings

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def token_matches(expected: str, authorization: str | None) -> bool:
    """Whether an `Authorization` header value carries the bearer token `expected`."""
    if not authorization:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer" or not presented:
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def require_token(settings: Settings) -> Callable[[Request], None]:
    """A FastAPI dependency: passes without `API_TOKEN`, else only with the right bearer token."""
    expected = settings.api_token.get_secret_value() if settings.api_token else None

    def check(request: Request) -> None:
        if expected is None:
            return
        if not token_matches(expected, request.headers.get("authorization")):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="this route needs Authorization: Bearer <API_TOKEN>",
                headers=CHALLENGE,
            )

    return check
