"""Admin log-in and log-out pages, shared by the services that have admin pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from musicstore.common.auth import (
    check_admin,
    count_login_attempt,
    log_admin_in,
    log_admin_out,
    refuse_when_login_limit_reached,
)


class LoginForm(FlaskForm):
    """The admin's user name and password."""

    username = StringField("User name", validators=[DataRequired(), Length(max=100)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


# What may stay as it is in a `next`; everything else is percent-encoded.
URL_CHARACTERS = "/?#[]@!$&'()*+,;=-._~:%"


def _safe_next(target: str | None, default: str) -> str:
    """Only follow a `next` that stays on this site, encoded so that it can be a header.

    CR/LF would split the Location header; tabs, spaces and backslashes are encoded too, as a browser would
    drop a tab ("/<TAB>/evil.example" is "//evil.example") or read a backslash as a slash.
    """
    if not target:
        return default
    target = quote(target, safe=URL_CHARACTERS)
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def login_blueprint(limiter: Limiter, home_endpoint: str) -> Blueprint:
    """The /login and /logout pages; log-in attempts are rate-limited per client address.

    The count is the one failed HTTP Basic attempts use too (common.auth), kept in the limiter's storage.
    """
    bp = Blueprint("auth", __name__)

    @bp.record_once
    def _share_the_limiter(state: Any) -> None:
        state.app.extensions["login_limiter"] = limiter

    @bp.route("/login", methods=["GET", "POST"])
    def login() -> str | Response:
        """Show the log-in form and log the admin in."""
        form = LoginForm()
        if request.method == "POST":
            refuse_when_login_limit_reached()
            count_login_attempt()
        if form.validate_on_submit():
            if check_admin(form.username.data or "", form.password.data or ""):
                log_admin_in()
                flash("Logged in as admin.", "success")
                return redirect(_safe_next(request.args.get("next"), url_for(home_endpoint)))
            flash("Wrong user name or password.", "error")
            return render_template("common/login.html", form=form), 401  # type: ignore[return-value]
        return render_template("common/login.html", form=form)

    @bp.post("/logout")
    def logout() -> Response:
        """Log the admin out: the session ends on the server, so a copy of its cookie opens nothing."""
        log_admin_out()
        flash("Logged out.", "info")
        return redirect(url_for(home_endpoint))

    return bp
