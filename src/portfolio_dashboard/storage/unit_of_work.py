"""One transaction, rolled back unless committed (cosmicpython's unit of work).

    with UnitOfWork(engine) as uow:
        uow.repo.insert_raw_payloads(...)
        uow.commit()          # without this line, everything above is rolled back on exit
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction, text

from portfolio_dashboard.storage.repositories import Repository


class UnitOfWork:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._tx: RootTransaction | None = None
        self.committed = False

    def __enter__(self) -> UnitOfWork:
        self._conn = self.engine.connect()
        self._tx = self._conn.begin()
        self.committed = False
        return self

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "UnitOfWork used outside its with-block"
        return self._conn

    @property
    def repo(self) -> Repository:
        return Repository(self.connection)

    def lock(self, name: str) -> None:
        """Serialise writers of the same thing (e.g. one source) until this transaction ends."""
        self.connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})

    def commit(self) -> None:
        assert self._tx is not None
        self._tx.commit()
        self.committed = True

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.committed:
                self.rollback()
        finally:
            assert self._conn is not None
            self._conn.close()
            self._conn = None
            self._tx = None
