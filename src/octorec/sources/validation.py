"""Field parsers for source rows: each returns the parsed value or raises `InvalidField`."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime

FULL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# GitHub logins: letters, digits and single hyphens, at most 39 characters. Old accounts may
# end in a hyphen or hold two in a row, so only the alphabet and the length are enforced.
LOGIN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
INTERACTION_KINDS = ("star", "own")


class InvalidField(ValueError):
    """A field's value is not what the format expects; the message says what was expected."""


def optional_text(value: str | None) -> str | None:
    """Strip surrounding whitespace; an empty value is missing."""
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def full_name(value: str | None) -> str:
    """An `owner/name` repository name."""
    text = optional_text(value)
    if text is None:
        raise InvalidField("expected a repository name 'owner/name', found nothing")
    if not FULL_NAME_PATTERN.match(text):
        raise InvalidField(f"expected a repository name 'owner/name', found {text!r}")
    return text


def login(value: str | None) -> str:
    """A GitHub login."""
    text = optional_text(value)
    if text is None:
        raise InvalidField("expected a GitHub login, found nothing")
    if not LOGIN_PATTERN.match(text):
        raise InvalidField(
            f"expected a GitHub login (letters, digits, hyphens, at most 39), found {text!r}"
        )
    return text


def optional_count(value: str | None) -> int | None:
    """A non-negative whole number; `12.0` is accepted as 12, an empty value is missing."""
    text = optional_text(value)
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        raise InvalidField(f"expected a non-negative whole number, found {text!r}") from None
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise InvalidField(f"expected a non-negative whole number, found {text!r}")
    return int(number)


def optional_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp such as `2024-05-01T12:00:00Z`, returned in UTC."""
    text = optional_text(value)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidField(
            f"expected an ISO 8601 timestamp like 2024-05-01T12:00:00Z, found {text!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def optional_date(value: str | None) -> date | None:
    """An ISO date such as `2026-02-01`."""
    text = optional_text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidField(f"expected a date like 2026-02-01, found {text!r}") from None


def pipe_list(value: str | None) -> tuple[str, ...]:
    """A `|`-separated list; blank items are dropped, order and first occurrences kept."""
    text = optional_text(value)
    if text is None:
        return ()
    items = (item.strip() for item in text.split("|"))
    return tuple(dict.fromkeys(item for item in items if item))


def optional_flag(value: str | None) -> bool:
    """A boolean written as true/false, yes/no or 1/0; empty is false."""
    text = optional_text(value)
    if text is None:
        return False
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "t", "y"):
        return True
    if lowered in ("false", "no", "0", "f", "n"):
        return False
    raise InvalidField(f"expected true or false, found {text!r}")


def interaction_kind(value: str | None) -> str:
    """`star` (the default when empty) or `own`."""
    text = optional_text(value)
    if text is None:
        return "star"
    lowered = text.lower()
    if lowered not in INTERACTION_KINDS:
        raise InvalidField(f"expected one of {', '.join(INTERACTION_KINDS)}, found {text!r}")
    return lowered
