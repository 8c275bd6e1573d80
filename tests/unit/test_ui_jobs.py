"""The dashboard's background job: one at a time, progress per source, errors reported not raised."""

import threading

from portfolio_dashboard.errors import NetworkError
from portfolio_dashboard.ui.jobs import Job


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_second_start_while_running_is_refused():
    release = threading.Event()
    job = Job(min_interval_s=0)
    calls = []

    def slow(progress):
        calls.append(1)
        release.wait(5)
        return "done"

    assert job.start("capture", "Saving", slow, ["demo"]) is True
    assert job.start("capture", "Saving", slow, ["demo"]) is False
    assert job.view().running is True
    release.set()
    job.wait(5)
    view = job.view()
    assert (view.running, view.result, view.seq, len(calls)) == (False, "done", 1, 1)


def test_a_start_right_after_a_fast_job_is_refused_then_allowed():
    clock = Clock()
    job = Job(clock=clock, min_interval_s=2.0)
    assert job.start("capture", "Saving", lambda p: 1) is True
    job.wait(5)
    clock.now += 0.5  # the second click of a double click
    assert job.start("capture", "Saving", lambda p: 2) is False
    clock.now += 2.0
    assert job.start("capture", "Saving", lambda p: 3) is True
    job.wait(5)
    assert job.view().result == 3
    assert job.view().seq == 2


def test_progress_is_recorded_per_source_in_start_order():
    job = Job(min_interval_s=0)

    def run(progress):
        progress("schwab", "fetching")
        progress("ib_gateway", "success")
        progress("schwab", "fail")

    job.start("capture", "Saving", run, ["ib_gateway", "schwab"])
    job.wait(5)
    assert list(job.view().progress.items()) == [("ib_gateway", "success"), ("schwab", "fail")]


def test_errors_become_messages():
    job = Job(min_interval_s=0)

    def down(progress):
        raise NetworkError("connection refused", source="ib_gateway", hint="start the gateway")

    job.start("capture", "Saving", down)
    job.wait(5)
    assert job.view().error == "connection refused — start the gateway"

    def bug(progress):
        raise KeyError("x")

    job.start("seed", "Seeding", bug)
    job.wait(5)
    view = job.view()
    assert view.error.startswith("unexpected KeyError")
    assert view.running is False


def test_view_is_a_copy():
    job = Job(min_interval_s=0)
    job.start("capture", "Saving", lambda p: None, ["demo"])
    job.wait(5)
    view = job.view()
    view.progress["demo"] = "tampered"
    assert job.view().progress["demo"] == "waiting"


def test_take_finished_is_true_once_per_finished_job():
    job = Job(min_interval_s=0)
    assert job.take_finished() is False  # nothing ran yet
    release = threading.Event()
    job.start("capture", "Saving", lambda p: release.wait(5))
    assert job.take_finished() is False  # still running
    release.set()
    job.wait(5)
    assert job.take_finished() is True
    assert job.take_finished() is False
