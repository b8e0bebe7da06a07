"""The admin tab's forms (Flask-WTF, with CSRF)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DecimalField, HiddenField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from musicstore.store.schemas import MAX_PRICE, MAX_STOCK


class PriceField(DecimalField):
    """A price with two decimals; a decimal comma (12,99) is read as a point."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        """Read the typed value, accepting a decimal comma."""
        super().process_formdata([v.strip().replace(",", ".") if isinstance(v, str) else v for v in valuelist])


class AlbumForm(FlaskForm):
    """A new album, with an optional cover image."""

    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    artist = StringField("Artist", validators=[DataRequired(), Length(max=200)])
    genre = StringField("Genre", validators=[DataRequired(), Length(max=50)])
    year = IntegerField("Year", validators=[InputRequired(), NumberRange(1900, date.today().year + 1)])
    price = PriceField("Price", places=2, validators=[InputRequired(), NumberRange(0, MAX_PRICE - 1)])
    stock = IntegerField("Stock", default=10, validators=[InputRequired(), NumberRange(0, MAX_STOCK)])
    cover = FileField("Cover image (JPEG, PNG, GIF or WebP; leave empty for a generated cover)")


class ShownStockField(IntegerField):
    """The stock the page showed, posted back hidden: the edit changes the stock by the difference."""

    widget = HiddenField.widget


class PriceStockForm(FlaskForm):
    """An album's new price and stock; `shown_stock` is what the page showed, so the change is relative."""

    price = PriceField("Price", places=2, validators=[InputRequired(), NumberRange(0, MAX_PRICE - 1)])
    stock = IntegerField("Stock", validators=[InputRequired(), NumberRange(0, MAX_STOCK)])
    shown_stock = ShownStockField("Stock shown", validators=[InputRequired(), NumberRange(0, MAX_STOCK)])

    def stock_delta(self) -> int:
        """How many copies the admin added (or, negative, took away) relative to what the page showed."""
        return int(self.stock.data or 0) - int(self.shown_stock.data or 0)


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF-protected confirmation."""
