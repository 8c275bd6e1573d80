"""Use cases for what the user decides: an account's wrapper and name, an instrument's asset class.

The CLI (``accounts set``, ``classes set``) and the dashboard pages both call these, one transaction each.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from portfolio_dashboard.domain.accounts import normalise_wrapper
from portfolio_dashboard.domain.asset_classes import clean_class
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.storage.reads.accounts import AccountSetting, account_settings
from portfolio_dashboard.storage.reads.classes import InstrumentClass, instrument_classes
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.user_settings import find_global_instruments, set_account, set_instrument_class

if TYPE_CHECKING:
    from sqlalchemy import Engine


def parse_account_key(key: str) -> tuple[str, str]:
    """``BROKER:ID`` -> (broker, id); the id may itself hold colons."""
    broker, sep, account_id = key.partition(":")
    if not sep or not broker.strip() or not account_id.strip():
        raise PortfolioError(f"account {key!r} is not BROKER:ID", hint="e.g. ib:U1234567 or schwab:12345678")
    return broker.strip().lower(), account_id.strip()


def list_accounts(engine: Engine, broker: str | None = None) -> list[AccountSetting]:
    with engine.connect() as conn:
        return account_settings(conn, broker)


def update_account(engine: Engine, key: str, *, wrapper: str | None = None, clear_wrapper: bool = False,
                   name: str | None = None, clear_name: bool = False) -> AccountSetting:
    """Set the wrapper (stored with source 'user') and/or the display name of ``BROKER:ID``; return the result."""
    broker, account_id = parse_account_key(key)
    code = None
    if wrapper is not None:
        try:
            code = normalise_wrapper(wrapper)
        except ValueError as exc:
            raise PortfolioError(str(exc)) from exc
    if wrapper is None and not clear_wrapper and name is None and not clear_name:
        raise PortfolioError("nothing to change", hint="give --wrapper, --clear-wrapper or --name")
    display = name.strip() if name is not None else None
    with UnitOfWork(engine) as uow:
        set_account(uow.connection, broker, account_id, wrapper=code, clear_wrapper=clear_wrapper,
                    display_name=display or None, clear_name=clear_name or (name is not None and not display))
        uow.commit()
    return next(a for a in list_accounts(engine, broker) if a.broker_account_id == account_id)


def list_classes(engine: Engine) -> list[InstrumentClass]:
    with engine.connect() as conn:
        return instrument_classes(conn)


def resolve_instrument(engine: Engine, ident: str) -> uuid.UUID:
    """The one global instrument a symbol, ISIN or id prefix names; ambiguous or unknown: PortfolioError."""
    with engine.connect() as conn:
        found = find_global_instruments(conn, ident)
    if not found:
        raise PortfolioError(f"no instrument {ident!r}", hint="`portfolio-dashboard classes list` shows them")
    if len(found) > 1:
        raise PortfolioError(f"{ident!r} names {len(found)} instruments",
                             hint="use the ISIN or the id from `portfolio-dashboard classes list`")
    return found[0]


def update_class(engine: Engine, global_id: uuid.UUID, user_class: str | None,
                 user_subclass: str | None) -> InstrumentClass:
    """Set the user's class/sub-class (both empty: back to the default); return the instrument's new class."""
    cls, sub = clean_class(user_class), clean_class(user_subclass)
    if cls is None and sub is not None:
        current = next(c for c in list_classes(engine) if c.id == global_id)
        cls = current.effective_class  # a sub-class alone keeps the class shown today
    with UnitOfWork(engine) as uow:
        set_instrument_class(uow.connection, global_id, cls, sub)
        uow.commit()
    return next(c for c in list_classes(engine) if c.id == global_id)
