"""Text from clients: no control characters (PostgreSQL refuses NUL), bounded length, e-mail shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, StringConstraints
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from musicstore.common.errors import ApiError

CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
WITHOUT_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"  # the same rule as a JSON Schema pattern
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


class _NoControl:
    """Refuses control characters after the other checks, and says so in the JSON Schema (as a pattern)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(no_control_characters, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema.setdefault("pattern", WITHOUT_CONTROL_CHARACTERS)
        return json_schema


NoControl = _NoControl()
"""Add to an Annotated str of a request body to refuse control characters."""

ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoControl]
"""A stripped, non-empty string of at most 200 characters, without control characters."""
