"""The admin: logs in once, adds an album with a generated cover, moves an order along, restocks."""

from __future__ import annotations

import io
import logging
import random
import re
import uuid
from typing import Any

import gevent
from locust.exception import StopUser

from musicstore.traffic import verify
from musicstore.traffic.catalog import random_page
from musicstore.traffic.journey import VERIFIED, JourneyUser, Outcome

log = logging.getLogger(__name__)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NEXT_STATUS = {"pending": "confirmed", "confirmed": "shipped", "shipped": "delivered"}
LOW_STOCK, RESTOCK_TO = 3, 12
OWN_TITLE = "Traffic Session"  # the albums this admin adds; it keeps the newest KEEP_OWN of them
KEEP_OWN, RETIRE_AT_ONCE = 30, 5
LOGIN_TRIES = 5
GENRES = ("Jazz", "Rock", "Electronic", "Folk", "Classical")


def csrf_token(html: str) -> str:
    """The CSRF token of a page's form."""
    match = CSRF.search(html)
    if not match:
        raise verify.JourneyFailed("expected a CSRF token in the page's form, found none")
    return match.group(1)


def generated_cover() -> bytes:
    """A small PNG cover: two colours and a circle, like the demo catalog's."""
    # Pillow (2-3 MB of the traffic UI's memory) is loaded by the first admin, not by an idle UI (#16).
    from PIL import Image, ImageDraw

    rng = random.Random()
    image = Image.new("RGB", (240, 240), tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(image)
    draw.ellipse((40, 40, 200, 200), fill=tuple(rng.randrange(256) for _ in range(3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class Admin(JourneyUser):
    """One simulated admin: a form login per user (store and orders), HTTP Basic for the APIs."""

    kind = "admin"
    weight = 1

    def on_start(self) -> None:
        """Log in to the store's and the order service's pages, once (a journey retries what failed here)."""
        super().on_start()
        if not self.config.admin_password:
            log.error("no ADMIN_PASSWORD in this process's environment: the admin user stops")
            raise StopUser()
        self.basic = (self.config.admin_user, self.config.admin_password)
        self.logged_in: set[str] = set()
        for service in (self.config.store, self.config.orders):
            try:
                self.log_in(service)
            except verify.JourneyFailed as exc:
                log.warning("admin log-in at %s failed (%s); the next journey tries again", service, exc)

    def ensure_logged_in(self) -> None:
        """Log in where the first attempt failed."""
        for service in (self.config.store, self.config.orders):
            if service not in self.logged_in:
                self.log_in(service)

    def log_in(self, base: str) -> None:
        """The form login, honouring the rate limit's Retry-After (a bounded number of tries)."""
        for _ in range(LOGIN_TRIES):
            page = self.step("GET", f"{base}/login", name="admin: login page")
            form = {
                "username": self.config.admin_user,
                "password": self.config.admin_password,
                "csrf_token": csrf_token(page.text),
            }
            answer = self.step("POST", f"{base}/login", name="admin: log in", expect=(200, 401, 429), data=form)
            if answer.status_code == 429:
                # The login limit asked us to wait: a deliberate, bounded pause.
                gevent.sleep(min(float(answer.headers.get("Retry-After", "5")), 60.0))
                continue
            if answer.status_code == 401:
                log.error("the admin's credentials were refused at %s/login: this admin user stops", base)
                raise StopUser()
            self.logged_in.add(base)
            return
        raise verify.JourneyFailed(f"admin: log in at {base}: still rate-limited after {LOGIN_TRIES} tries")

    def one_journey(self) -> Outcome:
        """Add an album and find it in the catalog; move an order one status on; restock low albums."""
        self.ensure_logged_in()
        self.add_album()
        self.retire_old_albums()
        self.move_an_order()
        self.restock()
        return VERIFIED

    def add_album(self) -> None:
        """Add an album through the admin page's form, with a generated cover; verify it is in the catalog."""
        store = self.config.store
        page = self.step("GET", f"{store}/admin", name="admin: catalog page")
        if "/login" in page.url:  # the session ended: log in again
            self.logged_in.discard(store)
            self.log_in(store)
            page = self.step("GET", f"{store}/admin", name="admin: catalog page")
        album = {
            "title": f"{OWN_TITLE} {uuid.uuid4().hex[:8]}",
            "artist": "The Synthetic Band",
            "genre": random.choice(GENRES),
            "year": "2024",
            "price": f"{random.randint(8, 25)}.99",
            "stock": "10",
        }
        self.step(
            "POST",
            f"{store}/admin/albums",
            name="admin: add album",
            data={**album, "csrf_token": csrf_token(page.text)},
            files={"cover": ("cover.png", generated_cover(), "image/png")},
        )
        found = self.step("GET", f"{store}/api/albums", name="admin: verify album", params={"q": album["title"]}).json()
        found_album = [(i["price"], int(i["stock"])) for i in found.get("items", []) if i["title"] == album["title"]]
        verify.expect(
            len(found_album) == 1 and found_album[0][0] == album["price"] and 0 <= found_album[0][1] <= 10,
            f"expected {album['title']!r} in the catalog at {album['price']} with 10 or fewer, found {found_album}",
        )

    def retire_old_albums(self) -> None:
        """Delete the generator's oldest albums beyond the newest KEEP_OWN: a long run does not grow the shop."""
        store = self.config.store
        found = self.step("GET", f"{store}/api/albums", name="admin: own albums",
                          params={"q": OWN_TITLE, "per_page": 100}).json()  # fmt: skip
        own = sorted(a["id"] for a in found.get("items", []) if str(a["title"]).startswith(OWN_TITLE))
        for album_id in own[: max(0, len(own) - KEEP_OWN)][:RETIRE_AT_ONCE]:
            self.step("DELETE", f"{store}/api/album/{album_id}", name="admin: delete album", auth=self.basic,
                      expect=(204, 404))  # fmt: skip
            gone = self.step("GET", f"{store}/api/album/{album_id}", name="admin: verify deletion", expect=(200, 404))
            verify.expect(gone.status_code == 404, f"expected album {album_id} gone after its deletion, found it")

    def move_an_order(self) -> None:
        """Move one pending, confirmed or shipped order one status on; verify the order service has it."""
        orders = self.config.orders
        self.step("GET", f"{orders}/", name="admin: dashboard")
        status = random.choice(list(NEXT_STATUS))
        listed = self.step(
            "GET",
            f"{orders}/api/orders",
            name="admin: list orders",
            auth=self.basic,
            params={"status": status, "per_page": 20},
        ).json()
        if not listed.get("items"):
            return
        order = random.choice(listed["items"])
        target = NEXT_STATUS[status]
        answer = self.step(
            "PUT",
            f"{orders}/api/orders/{order['id']}/status",
            name="admin: change status",
            auth=self.basic,
            json={"status": target},
            expect=(200, 409),
        )
        if answer.status_code == 409:
            if self.order_status(order["id"]) != status:
                return  # another admin moved it first: not this journey's failure
            raise verify.JourneyFailed(f"order {order['order_number']}: moving {status} -> {target} was refused")
        now = self.order_status(order["id"])
        verify.expect(now == target, f"order {order['order_number']}: expected status {target}, found {now}")

    def order_status(self, order_id: int) -> str:
        """An order's status as the order service has it."""
        body: dict[str, Any] = self.step(
            "GET", f"{self.config.orders}/api/orders/{order_id}", name="admin: verify order", auth=self.basic
        ).json()
        return str(body.get("status"))

    def restock(self) -> None:
        """Bring albums running low on a random catalog page back up, with the stock delta API."""
        for album in random_page(self, self.config.store, name="admin: albums api"):
            if int(album["stock"]) > LOW_STOCK:
                continue
            delta = RESTOCK_TO - int(album["stock"])
            answer = self.step(
                "POST",
                f"{self.config.store}/api/album/{album['id']}/stock",
                name="admin: restock",
                auth=self.basic,
                json={"delta": delta},
                expect=(200, 404),
            ).json()
            if "stock" in answer:
                verify.expect(
                    int(answer["stock"]) >= delta,
                    f"album {album['id']}: expected {delta} or more in stock after restocking, found {answer['stock']}",
                )
