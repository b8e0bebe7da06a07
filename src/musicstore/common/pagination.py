"""Paging rules shared by every list: `page` from 1, `per_page` 1-100 (default 20, larger clamped)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from musicstore.common.errors import ApiError

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list and where it sits in the whole.

    `total` is exact unless `total_is` says otherwise: "about" (an estimate, for a list too long to count on
    every page) or "more than" (a count that stopped at its bound). A page whose total is not exact knows
    from `more` whether a next page exists.
    """

    items: list[T]
    total: int
    page: int
    per_page: int
    total_is: Literal["exact", "about", "more than"] = "exact"
    more: bool | None = None

    @property
    def pages(self) -> int:
        """How many pages the whole list fills (at least one)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        """Whether a next page holds anything."""
        return self.page < self.pages if self.more is None else self.more

    @property
    def previous(self) -> int:
        """The page a "Previous" link leads to: the last page when this one is past the end of an exact list."""
        return min(self.page - 1, self.pages) if self.total_is == "exact" else self.page - 1

    def as_json(self, item: Callable[[T], Any]) -> dict[str, Any]:
        """The page as the API contract answers it."""
        return {
            "items": [item(i) for i in self.items],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
        }


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(f"{name} must be a whole number", 400) from None


def page_args(args: Mapping[str, str], default_per_page: int = 20) -> tuple[int, int]:
    """`page` and `per_page` from a query string, checked and clamped."""
    page = _int_arg(args, "page", 1)
    per_page = _int_arg(args, "per_page", default_per_page)
    if page < 1:
        raise ApiError("page must be 1 or more", 400)
    if per_page < 1:
        raise ApiError("per_page must be between 1 and 100", 400)
    if page > 1_000_000:
        raise ApiError("page is too large", 400)
    return page, min(per_page, MAX_PER_PAGE)


def page_args_or_first(args: Mapping[str, str], default_per_page: int = 20) -> tuple[int, int]:
    """For pages (not APIs): nonsense paging shows the first page instead of an error."""
    try:
        return page_args(args, default_per_page)
    except ApiError:
        return 1, default_per_page
