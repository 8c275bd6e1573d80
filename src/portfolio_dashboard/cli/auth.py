"""``portfolio-dashboard auth ...``: log in to brokers that need a person in the loop (Schwab's OAuth).

The command is a prompt around ``schwab_auth.begin_login`` / ``finish_login``, the same two functions the
dashboard can call: no local web server, no tunnel — the user pastes the address Schwab redirected to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from portfolio_dashboard.cli.common import command_group, fail, finish, get_app
from portfolio_dashboard.errors import AuthError, PortfolioError

if TYPE_CHECKING:  # the OAuth stack is imported only when a login is run
    from portfolio_dashboard.services.schwab_login import LoginRequest

auth_app = command_group("Log in to a broker (Schwab) and check how long the login lasts.")

PASTE_ATTEMPTS = 3


def _read_redirect(login: LoginRequest) -> str:
    """Prompt until the pasted address holds this login's code (a typo should not cost a new login)."""
    from portfolio_dashboard.services.schwab_login import parse_redirect_url

    for attempt in range(1, PASTE_ATTEMPTS + 1):
        pasted = str(typer.prompt("Paste the address you were redirected to", prompt_suffix="\n> "))
        try:
            parse_redirect_url(pasted, login.state)
            return pasted
        except AuthError as exc:
            if attempt == PASTE_ATTEMPTS:
                raise
            typer.secho(f"  {exc.user_message()}", fg="yellow", err=True)
    raise AssertionError("unreachable")


@auth_app.command("schwab")
def auth_schwab(
    status: Annotated[bool, typer.Option("--status", help="Only show how long the current login lasts.")] = False,
    logout: Annotated[bool, typer.Option("--logout", help="Disconnect: remove the saved Schwab login.")] = False,
) -> None:
    """Log in to Schwab: open the printed link, log in, then paste the address you land on."""
    from portfolio_dashboard.services.schwab_login import begin_login, finish_login, token_status

    settings = get_app().settings
    if logout:
        from portfolio_dashboard.services.connections import schwab_logout

        typer.echo(schwab_logout(settings))
        return
    if status:
        current = token_status(settings)
        typer.echo(current.describe())
        finish("success" if current.usable else "fail")
    try:
        login = begin_login(settings)
        typer.echo(
            "1. Open this link in any browser and log in to Schwab (choose your accounts, then Allow):\n\n"
            f"   {login.url}\n\n"
            f"2. Schwab then sends the browser to {login.redirect_uri} — the page may fail to load; that is\n"
            "   expected. Copy the whole address from the address bar (it contains ?code=...) and paste it\n"
            "   below within about 30 seconds: the code expires quickly.\n"
        )
        pasted = _read_redirect(login)
        result = finish_login(settings, login, pasted)
    except PortfolioError as exc:
        fail(exc)
    typer.echo(f"Logged in. Tokens saved to {result.token_path} (readable only by you).")
    typer.echo(result.describe())
