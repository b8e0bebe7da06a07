"""Where shoppers find albums: a random page of the store's catalog API, in stock only."""

from __future__ import annotations

import random
from typing import Any, Protocol

import requests

PER_PAGE = 24


class Stepper(Protocol):
    """A user that can make a named step (JourneyUser)."""

    catalog_total: int

    def step(self, method: str, url: str, *, name: str, **kwargs: Any) -> requests.Response: ...


def random_page(user: Stepper, store: str, *, name: str = "store: albums api") -> list[dict[str, Any]]:
    """The albums of a random page of the catalog."""
    pages = max(1, -(-user.catalog_total // PER_PAGE))
    page = random.randint(1, pages)
    items = catalog_page(user, store, page, name=name)
    if not items and page > 1:  # the catalog shrank since its size was last read: the first page, then
        items = catalog_page(user, store, 1, name=name)
    return items


def catalog_page(user: Stepper, store: str, page: int, *, name: str) -> list[dict[str, Any]]:
    """One page of the catalog (and the catalog's size, remembered on the user)."""
    body = user.step("GET", f"{store}/api/albums", name=name, params={"page": page, "per_page": PER_PAGE}).json()
    user.catalog_total = int(body.get("total", 0))
    items: list[dict[str, Any]] = body.get("items", [])
    return items


def pick_in_stock(user: Stepper, store: str, count: int) -> list[dict[str, Any]]:
    """Up to `count` different albums in stock, from a random page (a second page if the first has none)."""
    for _ in range(2):
        in_stock = [album for album in random_page(user, store) if int(album.get("stock", 0)) > 0]
        if in_stock:
            return random.sample(in_stock, min(count, len(in_stock)))
    return []


def search_word(album: dict[str, Any]) -> str:
    """A word of an album's title to search for (the longest, so it finds few others)."""
    words = [w for w in str(album.get("title", "")).split() if w.isalnum()]
    return max(words, key=len) if words else str(album.get("title", ""))[:20]
