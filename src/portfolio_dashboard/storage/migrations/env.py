"""Alembic environment: runs on a connection we hand it (``portfolio-dashboard migrate``) or, from the
``alembic`` command line, on the database the settings point at (embedded or ``DATABASE_URL``)."""

from alembic import context
from sqlalchemy import Connection, text

MIGRATION_LOCK = 727_001  # pg_advisory_lock key: two processes starting at once must not both migrate


def run(connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=False)
    with context.begin_transaction():
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        context.run_migrations()


def main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    from portfolio_dashboard.config import load_settings
    from portfolio_dashboard.storage.engine import make_engine, resolve_database_url

    settings = load_settings()
    engine = make_engine(resolve_database_url(settings), timezone=settings.portfolio_timezone)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()


main()
