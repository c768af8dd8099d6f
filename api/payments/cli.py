"""Payments' commands for operators: `flask --app wsgi payments grant-finance USERNAME` (the finance role beside
a staff login) and `flask --app wsgi payments reconcile [--date YYYY-MM-DD]` (a day again, in the foreground)."""

from __future__ import annotations

from datetime import date

import click
import flask
from sqlalchemy import select

from api.accounts.models import Role, User
from api.db import db
from api.errors import ApiError
from api.payments import reconciliation, services
from api.payments.gateway import WechatPayError

commands = flask.Blueprint("payments-commands", __name__, cli_group="payments")


@commands.cli.command("grant-finance")
@click.argument("username")
def grant_finance(username: str) -> None:
    """Give a staff login the finance role: refunds on residents' behalf, reconciliation differences."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.is_staff:
        raise click.ClickException(f"no staff login {username!r} (create it with `flask create-staff` first)")
    user.grant(Role.FINANCE)
    db.session.commit()
    click.echo(f"{username}: roles={','.join(user.roles)}")


@commands.cli.command("reconcile")
@click.option("--date", "day", default=None, help="the Shanghai day (YYYY-MM-DD); yesterday by default")
def reconcile_command(day: str | None) -> None:
    """Compare one day with WeChat Pay's trade bill now (again, if it was done)."""
    try:
        gateway = services.get_gateway()
        bill_date = date.fromisoformat(day) if day else reconciliation.yesterday()
        result = reconciliation.reconcile(bill_date, gateway)
    except (ApiError, WechatPayError, reconciliation.BillError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if result is None:
        click.echo("payments sandbox: there is no bill to reconcile")
        return
    click.echo(
        f"{bill_date}: {result.differences} differences; WeChat Pay {result.bill_payments_fen} fen paid, "
        f"{result.bill_refunds_fen} refunded; ours {result.our_payments_fen} paid, {result.our_refunds_fen} refunded"
    )
