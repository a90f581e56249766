"""Activities across worker processes on one ZEO server: chains and a
fan-in survive a kill -9, serialization tags and maxRunning hold under
3 worker processes of 2 threads each."""
import collections

import pytest
from persistent.mapping import PersistentMapping

from zodbtasks.interfaces import COMPLETED

from .chains import RUN_DEADLINE
from .chains import check_chains_and_fan_in
from .conftest import wait_for


@pytest.mark.slow
def test_chains_and_a_fan_in_survive_a_killed_worker(workers, zeo_service):
    check_chains_and_fan_in(workers, zeo_service)


def _overlaps(spans):
    """The most spans running at one moment."""
    events = sorted([(start, 1) for _, _, start, _ in spans]
                    + [(end, -1) for _, _, _, end in spans])
    most = running = 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    return most


@pytest.mark.slow
def test_serialization_and_max_running_hold_across_processes(
        workers, zeo_service):
    for attempt in zeo_service.tm.attempts(10):
        with attempt:
            zeo_service.service.setTaskLimit('hold', maxRunning=2)
    specs = []
    for number in range(60):
        specs.append(('span', 0.05, {'serializationTag': 'tag-%d'
                                     % (number % 3)}))
    for number in range(20):
        specs.append(('hold', 0.05, {}))
    ids = zeo_service.add_jobs(specs)
    started = [workers.start(threads=2, wait=False) for _ in range(3)]
    for worker in started:
        workers.wait_started(worker)
    jobs = zeo_service.wait_finished(ids, RUN_DEADLINE)
    assert {job.status for job in jobs} == {COMPLETED}
    assert {job.attempts for job in jobs} == {1}   # held, never failed
    spans = workers.spans()
    by_tag = collections.defaultdict(list)
    for span in spans:
        by_tag[zeo_service.fresh().jobs[span[0]].serializationTag].append(
            span)
    assert sorted(by_tag) == ['tag-0', 'tag-1', 'tag-2']
    for tag, runs in by_tag.items():               # never two at once
        runs.sort(key=lambda span: span[2])
        for before, after in zip(runs, runs[1:]):
            assert after[2] >= before[3], (tag, before, after)
    # the serialized jobs did run in parallel across tags and processes
    assert _overlaps(spans) >= 2
    assert len({pid for _, pid, _, _ in spans}) >= 2
    service = zeo_service.fresh()
    holds = [service.jobs[jobid] for jobid in ids[60:]]
    assert _max_concurrent(holds) <= 2
    for worker in started:
        assert workers.stop(worker) == 0


def _max_concurrent(jobs):
    events = sorted([(job.started, 1) for job in jobs]
                    + [(job.completed, -1) for job in jobs])
    most = running = 0
    for _, delta in events:
        running += delta
        most = max(most, running)
    return most


def test_a_job_running_in_a_worker_is_cancelled_from_this_process(
        workers, zeo_service):
    worker = workers.start(threads=1)
    jobid = zeo_service.add('patient', PersistentMapping(value=0,
                                                         seconds=60.0))
    wait_for(lambda: workers.runs_by_job().get(jobid), RUN_DEADLINE,
             'the worker did not start the job')
    for attempt in zeo_service.tm.attempts(10):
        with attempt:
            assert zeo_service.service.cancel(jobid)
    [job] = zeo_service.wait_finished([jobid], RUN_DEADLINE,
                                      statuses=('cancelled',))
    assert job.error == 'cancelled while running by system'
    assert job.input['value'] == 0            # its effect was aborted
    assert job.attempts == 1
    assert workers.stop(worker) == 0
