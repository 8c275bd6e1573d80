"""The schema check every command makes reads the head from the revision files as text (no Alembic import);
it must name the head Alembic itself finds."""

from portfolio_dashboard.storage import migrate


def test_the_head_read_from_the_files_is_alembics() -> None:
    assert migrate.head_from_files() == migrate.head_revision()
