"""The unit of work is one transaction that is rolled back unless committed — seen from another connection."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

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


def work_then_fail(engine: Engine, ids: list[uuid.UUID], *, commit: bool) -> None:
    with UnitOfWork(engine) as uow:
        ids.append(insert_run(uow))
        if commit:
            uow.commit()
        raise RuntimeError("broker went away")


def test_an_exception_rolls_back_and_propagates(module_engine: Engine) -> None:
    ids: list[uuid.UUID] = []
    with pytest.raises(RuntimeError, match="broker went away"):
        work_then_fail(module_engine, ids, commit=False)
    assert not stored(module_engine, ids[0])


def test_an_exception_after_commit_keeps_the_committed_work(module_engine: Engine) -> None:
    ids: list[uuid.UUID] = []
    with pytest.raises(RuntimeError, match="broker went away"):
        work_then_fail(module_engine, ids, commit=True)
    assert stored(module_engine, ids[0])


def insert_then_violate(engine: Engine, ids: list[uuid.UUID]) -> None:
    with UnitOfWork(engine) as uow:
        ids.append(insert_run(uow))
        uow.connection.execute(
            text("INSERT INTO snapshot_runs (run_id, trigger_type, schema_version) VALUES (:r, 'manual', 'x')"),
            {"r": ids[0]},
        )
        uow.commit()


def test_a_database_error_rolls_back_everything_before_it(module_engine: Engine) -> None:
    """All or nothing: the first row goes too when a later statement fails."""
    ids: list[uuid.UUID] = []
    with pytest.raises(IntegrityError, match="snapshot_runs_pkey"):
        insert_then_violate(module_engine, ids)
    assert not stored(module_engine, ids[0])


def test_each_unit_of_work_returns_its_connection(module_engine: Engine) -> None:
    for _ in range(3 * module_engine.pool.size()):  # type: ignore[attr-defined]
        with UnitOfWork(module_engine) as uow:
            insert_run(uow)
    assert module_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
