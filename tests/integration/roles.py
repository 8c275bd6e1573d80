"""A least-privilege role for tests that must not run as the embedded server's superuser."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, event, text


def as_plain_role(engine: Engine) -> None:
    """Every new connection of ``engine`` acts as a role without superuser (an app role). Roles belong to the
    whole (session-wide) server, so each test gets its own."""
    role = f"pd_plain_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE ROLE {role} NOSUPERUSER"))
        conn.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}"))
        conn.execute(text(f"GRANT CREATE, TEMPORARY ON DATABASE {engine.url.database} TO {role}"))

    @event.listens_for(engine, "connect")
    def set_role(dbapi_conn: object, _record: object) -> None:
        with dbapi_conn.cursor() as cur:  # type: ignore[attr-defined]
            cur.execute(f"SET ROLE {role}")
        dbapi_conn.commit()  # type: ignore[attr-defined]

    engine.dispose()
