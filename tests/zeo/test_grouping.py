"""Grouped execution across worker processes on one ZEO server: groups
of a grouping task run in one transaction each, and a worker killed in
the middle of a group loses nothing (its jobs run again, their ZODB
effects commit once)."""
import pytest
from persistent.mapping import PersistentMapping

from zodbtasks.interfaces import COMPLETED

from .conftest import wait_for

RUN_DEADLINE = 300.0
JOBS = 1200


def _add_grouped(zeo_service, number, sleep, batch=200):
    ids = []
    while len(ids) < number:
        ids.extend(zeo_service.add_jobs([
            ('grouped', PersistentMapping(value=0, sleep=sleep), {})
            for _ in range(min(batch, number - len(ids)))]))
    return ids


@pytest.mark.slow
def test_groups_survive_a_killed_worker(workers, zeo_service):
    zeo_service.set(leaseTimeout=2.0)
    ids = _add_grouped(zeo_service, JOBS, sleep=0.008)
    started = [workers.start(threads=1) for _ in range(3)]
    wait_for(lambda: zeo_service.counts()[COMPLETED] >= 200, RUN_DEADLINE,
             'the workers did not get going')
    last = set(ids[-600:])

    def in_a_group(victim):
        # the victim's worker record lists a group of the last jobs as
        # running (one small read: the snapshot is fresh when it is killed)
        service = zeo_service.fresh()
        return any(record['id'].split(':')[1:2] == [str(victim.pid)]
                   and len(last.intersection(record['running'])) > 1
                   for record in service.workers())
    held = []
    for attempt in range(3):
        # A victim killed just after its group committed holds nothing:
        # then another worker is started and killed in its group.
        victim = started[0] if attempt == 0 else workers.start(threads=1)
        wait_for(lambda: in_a_group(victim), RUN_DEADLINE,
                 'the victim never ran a group of the last jobs')
        workers.kill(victim)
        service = zeo_service.fresh()   # the victim's lease has not run out
        held = [jobid for jobid in ids
                if service.jobs[jobid].status == 'processing'
                and victim.owns(service.jobs[jobid])]
        if held:
            break
    assert 0 < len(held) <= 20
    jobs = zeo_service.wait_finished(ids, RUN_DEADLINE)
    assert [job.id for job in jobs if job.status != COMPLETED] == []
    # every job's ZODB effect committed exactly once
    assert [job.id for job in jobs if job.input['value'] != 1] == []
    groups = workers.groups()
    # the jobs ran in groups: one line (and transaction) per group
    assert max(len(members) for _, members in groups) == 20
    assert sum(len(members) for _, members in groups) >= JOBS
    assert len({job._p_serial for job in jobs}) < JOBS / 5
    # the group the victim was running ran again in another worker,
    # with one more attempt; no other job needed one
    service = zeo_service.fresh()
    for jobid in held:
        job = service.jobs[jobid]
        assert (job.attempts, victim.owns(job)) == (2, False), jobid
    assert [job.id for job in jobs
            if job.attempts != 1 and job.id not in held] == []
    for worker in started[1:]:
        assert workers.stop(worker) == 0
    service = zeo_service.fresh()
    service.sweep()
    assert service.checkIndex() == []
