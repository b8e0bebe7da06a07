"""The dashboard's forms: list filters (GET, no state change) and status changes (POST, CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, Form, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from musicstore.common.text import MAX_EMAIL
from musicstore.orders import rules


class FilterForm(Form):
    """Narrow the orders table; read from the query string, so it carries no CSRF token."""

    status = SelectField(
        "Status",
        validators=[Optional()],
        choices=[SelectChoice("", "Any status"), *(SelectChoice(s, s.capitalize()) for s in rules.STATUSES)],
    )
    email = StringField("Customer e-mail", validators=[Optional(), Length(max=MAX_EMAIL)])
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("To", validators=[Optional()])


class StatusForm(FlaskForm):
    """Move one order to a new status."""

    status = HiddenField(validators=[DataRequired(), AnyOf(rules.STATUSES)])
