"""A cart's lines in the cart database: album ids and quantities, nothing the store owns."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from musicstore.cart.models import Cart, CartItem
from musicstore.common.db import utcnow

_ITEM_TABLE = cast(Table, CartItem.__table__)
_ITEMS = _ITEM_TABLE.c
# Built once, of the table's columns, so it runs as plain Core: the ORM's statement, built, keyed and compiled for
# the ORM on every call, read three lines in 0.43-0.64 ms with the request's session; this one on a connection of its
# own (the cart page's) in 0.14-0.19 ms, in process (#16).
LINES = select(_ITEMS.album_id, _ITEMS.quantity).where(_ITEMS.cart_id == bindparam("cart_id")).order_by(_ITEMS.added_at)
_CARTS = cast(Table, Cart.__table__)
TOUCH_CART = update(_CARTS).where(_CARTS.c.id == bindparam("cart_id")).values(updated_at=bindparam("now"))
_ORDERED_LINE = (_ITEMS.cart_id == bindparam("in_cart")) & (_ITEMS.album_id == bindparam("of_album"))
DELETE_ORDERED = delete(_ITEM_TABLE).where(_ORDERED_LINE, _ITEMS.quantity <= bindparam("ordered"))
TAKE_ORDERED = (
    update(_ITEM_TABLE)
    .where(_ORDERED_LINE, _ITEMS.quantity > bindparam("ordered"))
    .values(quantity=_ITEMS.quantity - bindparam("ordered"))
)
NEW_CART = insert(_CARTS)
NEW_LINE = insert(_ITEM_TABLE)


def cart_lines(db: Session | Connection, cart_id: str) -> dict[int, int]:
    """The cart's quantities by album id, oldest line first (in a session's transaction, or on a connection)."""
    return {album_id: quantity for album_id, quantity in db.execute(LINES, {"cart_id": cart_id})}


def line_quantity(session: Session, cart_id: str, album_id: int) -> int:
    """How many copies of the album the cart holds (0 when none)."""
    item = session.get(CartItem, (cart_id, album_id))
    return item.quantity if item else 0


def lock_cart(db: Session | Connection, cart_id: str) -> None:
    """Touch the cart row (making it if new), so changes to one cart happen one at a time."""
    if db.execute(TOUCH_CART, {"cart_id": cart_id, "now": utcnow()}).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with db.begin_nested():
            db.execute(NEW_CART, {"id": cart_id})
    except IntegrityError:
        pass  # another first request made it: it is the same cart


def set_quantity(session: Session, cart_id: str, album_id: int, quantity: int) -> None:
    """Set a line's quantity (the cart must exist: lock_cart first); 0 removes the line."""
    if quantity <= 0:
        remove_line(session, cart_id, album_id)
        return
    item = session.get(CartItem, (cart_id, album_id))
    if item is None:
        session.add(CartItem(cart_id=cart_id, album_id=album_id, quantity=quantity, added_at=utcnow()))
    else:
        item.quantity = quantity
    session.flush()


def remove_line(session: Session, cart_id: str, album_id: int) -> bool:
    """Take an album out of the cart; True when it was there."""
    result = session.execute(delete(CartItem).where(CartItem.cart_id == cart_id, CartItem.album_id == album_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def remove_ordered(connection: Connection, cart_id: str, ordered: dict[int, int], *, locked: bool = False) -> None:
    """Take exactly the ordered copies out of the cart; lines added since stay. `locked`: this transaction has
    already written the cart's row (changes to one cart happen one at a time).

    One DELETE per line when all its copies were ordered (the usual case), else one UPDATE more: no line is read
    (the checkout waits on each round trip).
    """
    if not locked:
        lock_cart(connection, cart_id)
    for album_id, quantity in ordered.items():
        line = {"in_cart": cart_id, "of_album": album_id, "ordered": quantity}
        if not connection.execute(DELETE_ORDERED, line).rowcount:
            connection.execute(TAKE_ORDERED, line)
