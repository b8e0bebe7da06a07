"""Text from clients: no control characters (PostgreSQL refuses NUL), bounded length, e-mail shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

from musicstore.common.errors import ApiError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# A pragmatic address check shared by every service: local part up to 64, a dotted domain, no empty labels.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")
MAX_EMAIL = 254


def has_control_characters(value: str) -> bool:
    """True when the text holds a control character (NUL, newline, escape...)."""
    return bool(CONTROL_CHARACTERS.search(value))


def no_control_characters(value: str) -> str:
    """A pydantic check: refuse text with control characters."""
    if has_control_characters(value):
        raise ValueError("must not contain control characters")
    return value


def is_email(value: str) -> bool:
    """True for something shaped like an e-mail address."""
    return len(value) <= MAX_EMAIL and bool(EMAIL.match(value)) and not has_control_characters(value)


def query_text(args: Mapping[str, str], name: str, max_length: int = 200) -> str:
    """A text query parameter, stripped and cut to length; control characters are a 400."""
    value = args.get(name, "").strip()[:max_length]
    if has_control_characters(value):
        raise ApiError(f"{name} must not contain control characters", 400)
    return value


NoControl = AfterValidator(no_control_characters)
"""Add to an Annotated str of a request body to refuse control characters."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl]
"""A stripped, non-empty string of at most 200 characters, without control characters."""
