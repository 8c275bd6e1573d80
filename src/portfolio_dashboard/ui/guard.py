"""Every page renders inside ``guarded``: a failure becomes a clear message, never a traceback on screen."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from portfolio_dashboard.errors import DatabaseError, PortfolioError

log = logging.getLogger("portfolio_dashboard.ui")


@contextmanager
def guarded(what: str) -> Iterator[None]:
    # Streamlit's own rerun/stop signals derive from BaseException and pass through untouched.
    try:
        yield
    except DatabaseError as exc:
        st.error(f"**The database is not available.** {exc.user_message()}", icon=":material/database:")
    except OperationalError as exc:
        log.warning("database error while showing %s: %s", what, str(exc).splitlines()[0])
        st.error("**The database stopped answering.** Check that PostgreSQL is running, then reload the page.",
                 icon=":material/database:")
    except ProgrammingError as exc:
        log.error("query failed while showing %s: %s", what, str(exc).splitlines()[0])
        st.error("**The database schema is not what this version expects.** Run `portfolio-dashboard migrate`, "
                 "then reload the page.", icon=":material/database:")
    except SQLAlchemyError as exc:
        log.exception("database error while showing %s", what)
        st.error(f"**Could not read the database** ({type(exc).__name__}). The server log has the details.")
    except PortfolioError as exc:
        st.error(exc.user_message())
    except Exception as exc:
        log.exception("unexpected error while showing %s", what)
        st.error(f"**Something went wrong while showing {what}** ({type(exc).__name__}: {exc}). "
                 "The server log has the details.")
