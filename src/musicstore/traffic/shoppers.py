"""Shoppers over HTTP, without a browser: the buying shopper, the declined card, the window shopper."""

from __future__ import annotations

import random
import secrets
import uuid
from typing import Any

import gevent

from musicstore.traffic import verify
from musicstore.traffic.catalog import pick_in_stock, random_page, search_word
from musicstore.traffic.journey import SOLD_OUT, VERIFIED, FaultMet, JourneyUser, Outcome
from musicstore.traffic.run import CURRENT

GOOD_CARDS = ("4242 4242 4242 4242", "5555 5555 5555 4444", "3782 822463 10005")
DECLINED_CARD = "4000 0000 0000 0002"
PENDING_TRIES = 10


def card(number: str) -> dict[str, str]:
    """Card fields with an expiry a few years ahead."""
    return {"card_number": number, "expiry": "12/39", "cvv": "123"}


class CartShopper(JourneyUser):
    """What the HTTP shoppers share: a fresh cart per journey, JSON calls to the cart, verification reads."""

    abstract = True

    def new_cart(self) -> None:
        """Start a journey with an empty cart of our own (X-Cart-Id) and a new shopper's e-mail."""
        self.cart_headers = {"X-Cart-Id": secrets.token_urlsafe(18)}
        self.email = f"traffic-{uuid.uuid4().hex[:12]}@example.com"
        self.paid: Any = None  # the payment's final answer, once there is one
        self.shown: dict[str, Any] | None = None  # the cart as shown when paying

    def cart_call(self, path: str, body: dict[str, Any], *, name: str, expect: tuple[int, ...]) -> Any:
        """A JSON post to the cart."""
        return self.step(
            "POST", f"{self.config.cart}{path}", name=name, expect=expect, json=body, headers=self.cart_headers
        )

    def view_cart(self, name: str = "cart: view") -> dict[str, Any]:
        """The cart as the cart service shows it."""
        cart: dict[str, Any] = self.step(
            "GET", f"{self.config.cart}/api/cart", name=name, headers=self.cart_headers
        ).json()
        return cart

    def add(self, album: dict[str, Any], quantity: int = 1) -> bool:
        """Add an album; False when the store no longer has the copies (409) or the album (404: retired)."""
        if CURRENT.scenario is not None:
            CURRENT.scenario.touched(int(album["id"]))
        response = self.cart_call(
            "/add_to_cart",
            {"album_id": album["id"], "quantity": quantity},
            name="cart: add",
            expect=(200, 201, 404, 409),
        )
        return response.status_code not in (404, 409)

    def pay(self, number: str, shown: dict[str, Any], *, expect: tuple[int, ...]) -> Any:
        """Pay for the cart that was shown; a pending answer (202) is asked again, honouring Retry-After."""
        body = {
            "name": "Traffic Shopper",
            "email": self.email,
            **card(number),
            "idempotency_key": str(uuid.uuid4()),
            "expected_total": shown["total"],
        }
        self.shown = shown
        if CURRENT.scenario is not None:
            CURRENT.scenario.checkout(body, self.cart_headers)
        for _ in range(PENDING_TRIES):
            try:
                response = self.cart_call("/process_payment", body, name="cart: pay", expect=(*expect, 202))
            except FaultMet as met:
                self.paid = met
                raise
            if CURRENT.scenario is not None:
                CURRENT.scenario.answered(body["idempotency_key"], response)
            if response.status_code != 202:
                self.paid = response
                return response
            # A deliberate pause the service asked for (Retry-After, bounded), not a guess at a condition.
            gevent.sleep(min(max(float(response.headers.get("Retry-After", "1")), 0.1), 5.0))
        raise verify.JourneyFailed(f"cart: pay: still pending after {PENDING_TRIES} tries")

    def refused(self, response: Any, shown: dict[str, Any]) -> Outcome:
        """A 409 at payment: sold out (verified), unless the cart's total moved since it was shown (a failure)."""
        body = response.json() if response.content else {}
        verify.expect(
            "total" not in body,
            f"cart: pay: the cart showed {shown['total']}, the cart now says {body.get('total')} ({body.get('error')})",
        )
        return self.sold_out(shown)

    def after_fault(self, met: FaultMet) -> Outcome:
        """Through an injected fault: no order unless the payment answered one, and a cart kept when it did not."""
        if self.paid is None:
            return Outcome("verified_fault")  # it failed before paying: nothing can have been bought
        orders = self.orders_for(self.email)
        if isinstance(self.paid, FaultMet) or self.paid.status_code >= 300:
            verify.check_no_order(orders, email=self.email)
            assert self.shown is not None
            verify.check_cart_kept(self.shown, self.cart_through_faults())
            return Outcome("verified_fault")
        verify.check_answer_matches_order(self.paid.json(), verify.check_one_order(orders, email=self.email))
        return Outcome("verified_fault", orders=1)

    def cart_through_faults(self, tries: int = 5) -> dict[str, Any]:
        """The cart, asked again while an injected fault (the store failing) keeps the cart from answering."""
        for _ in range(tries - 1):
            try:
                return self.view_cart("cart: view after a fault")
            except FaultMet:
                gevent.sleep(0.5)  # a deliberate pause before asking again, bounded by `tries`
        return self.view_cart("cart: view after a fault")

    def sold_out(self, shown: dict[str, Any]) -> Outcome:
        """A sold-out answer is verified: no order was made and the cart was kept."""
        verify.check_no_order(self.orders_for(self.email), email=self.email)
        verify.check_cart_kept(shown, self.view_cart("cart: view after refusal"))
        return SOLD_OUT


class HttpShopper(CartShopper):
    """Browses, searches, fills a cart, changes it, checks out and pays; the order is verified."""

    kind = "http shopper"
    weight = 3

    def one_journey(self) -> Outcome:
        """Browse, search, add, change a quantity, remove a line, check out, pay, verify the order."""
        self.new_cart()
        store, cart = self.config.store, self.config.cart
        self.step("GET", f"{store}/", name="store: shop page")
        albums = pick_in_stock(self, store, random.randint(2, 3))
        if not albums:
            return SOLD_OUT
        self.step("GET", f"{store}/", name="store: search", params={"q": search_word(albums[0])})
        added = [album for album in albums if self.add(album)]
        if not added:
            return self.sold_out({"items": [], "total": "0.00"})
        if int(added[0].get("stock", 0)) >= 2:
            self.cart_call(
                "/update_quantity",
                {"album_id": added[0]["id"], "quantity": 2},
                name="cart: change quantity",
                expect=(200, 404, 409),  # 404: the admin retired the album meanwhile
            )
        if len(added) > 1:
            self.cart_call("/remove_item", {"album_id": added[-1]["id"]}, name="cart: remove line", expect=(200, 404))
        shown = self.view_cart()
        if not shown.get("items"):  # every album in it was retired meanwhile: nothing left to buy
            return self.sold_out(shown)
        self.step("GET", f"{cart}/checkout", name="cart: checkout page", headers=self.cart_headers)
        response = self.pay(random.choice(GOOD_CARDS), shown, expect=(201, 409))
        if response.status_code == 409:
            return self.refused(response, shown)
        order = verify.check_one_order(self.orders_for(self.email), email=self.email)
        verify.check_order_matches_cart(order, shown, email=self.email)
        verify.check_answer_matches_order(response.json(), order)
        verify.check_lines_left_cart(shown, self.view_cart("cart: view after order"))
        return Outcome("verified", orders=1)


class DeclinedCardShopper(CartShopper):
    """Pays with the test card that is always declined: no order, the cart kept."""

    kind = "declined card"
    weight = 1

    def one_journey(self) -> Outcome:
        """Add an album, pay with the declined test card, verify that no order was made and the cart kept."""
        self.new_cart()
        albums = pick_in_stock(self, self.config.store, 1)
        if not albums or not self.add(albums[0]):
            return SOLD_OUT
        shown = self.view_cart()
        self.step("GET", f"{self.config.cart}/checkout", name="cart: checkout page", headers=self.cart_headers)
        response = self.pay(DECLINED_CARD, shown, expect=(402, 409))
        if response.status_code == 409:
            return self.refused(response, shown)
        verify.check_no_order(self.orders_for(self.email), email=self.email)
        verify.check_cart_kept(shown, self.view_cart("cart: view after decline"))
        return VERIFIED


class WindowShopper(JourneyUser):
    """Browses, pages, filters and searches; the album searched for is found."""

    kind = "window shopper"
    weight = 2

    def one_journey(self) -> Outcome:
        """Shop page, another page, a genre, an album, the statistics, and a search that finds its album."""
        store = self.config.store
        self.step("GET", f"{store}/", name="store: shop page")
        albums = random_page(self, store)
        if not albums:
            verify.expect(self.catalog_total == 0, "expected albums on a catalog page, found none")
            return VERIFIED
        album = random.choice(albums)
        self.step("GET", f"{store}/", name="store: shop page n", params={"page": 2})
        self.step("GET", f"{store}/", name="store: genre", params={"genre": album.get("genre", "")})
        self.step("GET", f"{store}/api/album/{album['id']}", name="store: album api", expect=(200, 404))
        self.step("GET", f"{store}/stats", name="store: stats page")
        found = self.step(
            "GET", f"{store}/api/albums", name="store: search api", params={"q": album["title"], "per_page": 100}
        ).json()
        ids = [item["id"] for item in found.get("items", [])]
        verify.expect(
            album["id"] in ids or found.get("total", 0) > len(ids),
            f"searching for {album['title']!r}: expected album {album['id']} among the results, found {ids[:10]}",
        )
        return VERIFIED
