"""The unit of work is one transaction that is rolled back unless committed — seen from another connection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text

from portfolio_dashboard.storage.unit_of_work import UnitOfWork


def insert_run(uow: UnitOfWork) -> uuid.UUID:
    run_id = uuid.uuid4()
    uow.connection.execute(
        text("INSERT INTO snapshot_runs (run_id, trigger_type, schema_version) VALUES (:r, 'manual', 'test')"),
        {"r": run_id},
    )
    return run_id


def stored(engine: Engine, run_id: uuid.UUID) -> bool:
    """Whether another connection sees the run."""
    with engine.connect() as conn:
        return bool(conn.execute(text("SELECT count(*) FROM snapshot_runs WHERE run_id = :r"), {"r": run_id}).scalar())


def test_committed_work_is_stored(module_engine: Engine) -> None:
    with UnitOfWork(module_engine) as uow:
        run_id = insert_run(uow)
        assert not stored(module_engine, run_id)  # not visible to others before the commit
        uow.commit()
    assert stored(module_engine, run_id)


def test_work_without_commit_is_rolled_back(module_engine: Engine) -> None:
    with UnitOfWork(module_engine) as uow:
        run_id = insert_run(uow)
        assert uow.connection.execute(
            text("SELECT count(*) FROM snapshot_runs WHERE run_id = :r"), {"r": run_id}
        ).scalar() == 1  # visible inside the transaction
    assert not stored(module_engine, run_id)


def test_an_exception_rolls_back_and_propagates(module_engine: Engine) -> None:
    run_id: uuid.UUID | None = None
    with pytest.raises(RuntimeError, match="broker went away"), UnitOfWork(module_engine) as uow:
        run_id = insert_run(uow)
        raise RuntimeError("broker went away")
    assert run_id is not None
    assert not stored(module_engine, run_id)


def test_an_exception_after_commit_keeps_the_committed_work(module_engine: Engine) -> None:
    run_id: uuid.UUID | None = None
    with pytest.raises(RuntimeError), UnitOfWork(module_engine) as uow:
        run_id = insert_run(uow)
        uow.commit()
        raise RuntimeError("after the commit")
    assert run_id is not None
    assert stored(module_engine, run_id)


def test_a_database_error_rolls_back_everything_before_it(module_engine: Engine) -> None:
    """All or nothing: the first row goes too when a later statement fails."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), UnitOfWork(module_engine) as uow:
        run_id = insert_run(uow)
        uow.connection.execute(
            text("INSERT INTO snapshot_runs (run_id, trigger_type, schema_version) VALUES (:r, 'manual', 'x')"),
            {"r": run_id},
        )
        uow.commit()
    assert not stored(module_engine, run_id)


def test_each_unit_of_work_returns_its_connection(module_engine: Engine) -> None:
    for _ in range(3 * module_engine.pool.size()):  # type: ignore[attr-defined]
        with UnitOfWork(module_engine) as uow:
            insert_run(uow)
    assert module_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
