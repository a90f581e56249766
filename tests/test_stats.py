"""zodbtasks.stats: the figures workers write in their claims, database-wide."""
import threading

import pytest
import transaction

from zodbtasks import processor
from zodbtasks import stats
from zodbtasks import testing
from zodbtasks import transactions
from zodbtasks.dispatch import Dispatch
from zodbtasks.retry import RetryPolicy

T0 = 1_800_000_000.0  # a minute start: T0 % 60 == 0
DEADLINE = 10.0


@pytest.fixture(autouse=True)
def no_back_off(monkeypatch):
    monkeypatch.setattr(transactions, 'BACK_OFF', 0.0)


def _add(service, task, count=1, now=T0, **options):
    ids = [service.add(task, i, now=now, **options) for i in range(count)]
    transaction.commit()
    return ids


def test_quantile_interpolates_inside_the_bucket():
    bounds = (1.0, 2.0, 4.0)
    assert stats.quantile((0, 0, 0, 0), 0.5, bounds) is None
    assert stats.quantile((10, 0, 0, 0), 0.5, bounds) == 0.5
    assert stats.quantile((0, 10, 0, 0), 0.5, bounds) == 1.5
    assert stats.quantile((5, 0, 5, 0), 0.95, bounds) == pytest.approx(3.8)
    assert stats.quantile((0, 0, 0, 3), 0.5, bounds) == 4.0


def test_process_writes_the_figures_of_each_task(service, tasks, quiet):
    _add(service, 'echo', 3)
    _add(service, 'crash', 2)
    service.process(T0 + 1.5)
    transaction.commit()
    totals = stats.task_totals(service)
    assert totals['echo'].completed == 3 and totals['echo'].failed == 0
    assert totals['crash'].failed == 2 and totals['crash'].completed == 0
    assert totals['echo'].runs == 3
    assert sum(totals['echo'].latency_buckets) == 3
    assert totals['echo'].latency_sum == pytest.approx(4.5)
    overall = stats.service_totals(service)
    assert (overall.finished, overall.completed, overall.failed) == (5, 3, 2)
    minutes = stats.per_minute(service, T0 - 60, T0 + 120)
    assert [m.start for m in minutes] == [T0 - 60, T0, T0 + 60]
    assert [m.total.finished for m in minutes] == [0, 5, 0]
    assert minutes[1].by_task['crash'].failed == 2
    assert minutes[1].queue_depth is not None


def test_retried_runs_are_counted_apart_from_failures(service, tasks, quiet):
    _add(service, 'crash', retryPolicy=RetryPolicy(
        maxAttempts=3, delay=0.0, retryErrors=True))
    for step in range(3):
        service.process(T0 + step)
        transaction.commit()
    tally = stats.task_totals(service)['crash']
    assert (tally.retried, tally.failed, tally.completed) == (2, 1, 0)
    assert tally.runs == 3


def test_an_aborted_run_notes_nothing(service, tasks):
    jobid = _add(service, 'echo')[0]
    dispatch = Dispatch(service)
    assert dispatch.claimJobs(T0, 1, 'w1') == [jobid]
    transaction.commit()
    dispatch.finishJob(jobid, T0 + 1, output=1)
    transaction.abort()
    assert Dispatch(service).foldJobs('w1', T0 + 2) == 0
    transaction.commit()
    assert stats.task_totals(service) == {}


def test_figures_written_once_when_the_claim_is_tried_again(service, tasks):
    jobid = _add(service, 'echo')[0]
    dispatch = Dispatch(service)
    dispatch.claimJobs(T0, 1, 'w1')
    transaction.commit()
    dispatch.finishJob(jobid, T0 + 1, output=1)
    transaction.commit()
    dispatch.claimJobs(T0 + 5, 1, 'w1')   # writes the figures ...
    transaction.abort()                   # ... but does not commit
    dispatch.claimJobs(T0 + 6, 1, 'w1')   # the retry writes them again
    transaction.commit()
    dispatch.claimJobs(T0 + 9, 1, 'w1')   # nothing new: writes nothing
    transaction.commit()
    assert stats.task_totals(service)['echo'].completed == 1


def test_totals_last_when_the_worker_retires(service, tasks):
    _add(service, 'echo', 2)
    service.process(T0)
    transaction.commit()
    owner = next(iter(service._workers))
    assert Dispatch(service).retire(owner)
    transaction.commit()
    assert owner not in service._workers
    assert stats.task_totals(service)['echo'].completed == 2
    assert stats.per_minute(service, T0, T0 + 60)[0].total.completed == 2


def test_a_swept_worker_counts_a_lease_expiry(service, tasks, quiet):
    jobid = _add(service, 'echo')[0]
    Dispatch(service).claimJobs(T0, 1, 'lost-worker')
    transaction.commit()
    service.sweep(T0 + service.leaseTimeout + 60)
    transaction.commit()
    assert service.getStatus(jobid) in ('queued', 'error')
    assert stats.service_totals(service).lease_expiries == 1


def test_worker_finished_counts_the_last_hour(service, tasks):
    _add(service, 'echo', 2)
    service.process(T0)
    transaction.commit()
    _add(service, 'echo', 3, now=T0 + 3600)
    service.process(T0 + 3600)
    transaction.commit()
    record = next(iter(service._workers.values()))
    assert stats.worker_finished(record, T0 + 60) == 3
    assert stats.worker_finished(record, T0) == 5


def test_old_minutes_are_dropped_and_still_counted(service, tasks):
    _add(service, 'echo')
    service.process(T0)
    transaction.commit()
    _add(service, 'echo', now=T0 + stats.KEEP + 120)
    service.process(T0 + stats.KEEP + 120)
    transaction.commit()
    record = next(iter(service._workers.values()))
    assert min(record.figures.minutes.keys()) > T0 // 60
    assert min(record.figures.slots.keys()) > T0 // stats.SLOT
    assert stats.task_totals(service)['echo'].completed == 2
    assert stats.per_minute(service, T0, T0 + 60)[0].total.finished == 0


def test_slots_sum_their_minutes(service, tasks):
    for offset in (0, 120, 540, 600):
        _add(service, 'echo', now=T0 + offset)
        service.process(T0 + offset)
        transaction.commit()
    slots = stats.per_slot(service, T0, T0 + 1200)
    assert [slot.start for slot in slots] == [T0, T0 + 600]
    assert [slot.total.completed for slot in slots] == [3, 1]
    assert all(slot.queue_depth is not None for slot in slots)


def test_a_processor_thread_writes_figures_the_ui_process_reads(
        db, service, tasks):
    _add(service, 'echo', 4, now=None)
    proc = processor.Processor(db, service._p_oid, 'stats-test')
    proc.start()
    try:
        seen = threading.Event()
        with testing.open_service(db, service._p_oid) as (conn, tm, other):
            for _ in range(200):
                tm.begin()
                tally = stats.task_totals(other).get('echo')
                if tally is not None and tally.completed == 4:
                    seen.set()
                    break
                seen.wait(DEADLINE / 200)
            tm.abort()
    finally:
        proc.stop()
        proc.join(DEADLINE)
    assert seen.is_set()
    assert not proc.is_alive()


def test_the_stored_classes_keep_their_first_path():
    """Figures were pickled as zodbtasks.stats.* before they moved to
    zodbtasks.figures: the old path still names them."""
    from zodbtasks import figures
    assert stats.Figures is figures.Figures
    assert stats.MinuteFigures is figures.MinuteFigures
