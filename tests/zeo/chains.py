"""The chains-and-fan-in scenario of worker processes, shared by the ZEO
and the RelStorage tests: ``CHAINS`` chains of ``LENGTH`` ``count`` jobs
(each job after the one before it, all tagged 'chains'), a fan-in job
after the tag and a job after every chain's tail, run by 3 workers of
2 threads, one of them killed with SIGKILL once 300 jobs completed.

``check_chains_and_fan_in`` asserts that every job completed, committed
its effect once, that every chain ran in order and that the two fan-ins
ran once, after the rest; then that the survivors stop cleanly and that
``checkIndex()`` finds nothing once the victim was swept.
"""
from persistent.mapping import PersistentMapping

from zodbtasks.interfaces import COMPLETED

from .conftest import wait_for

RUN_DEADLINE = 300.0
CHAINS = 20
LENGTH = 100


def add_chains(service_view, chains, length, per_transaction=50):
    """``chains`` chains of ``length`` ``count`` jobs, each job after the
    one before it and tagged 'chains'; return the ids, chain by chain.
    ``service_view`` is a ``zeo.conftest.Service``."""
    ids = [[] for _ in range(chains)]
    for step in range(0, length, per_transaction):
        for chain in ids:
            specs = []
            for position in range(step, min(step + per_transaction, length)):
                specs.append(position)
            previous = chain[-1] if chain else None
            for attempt in service_view.tm.attempts(10):
                with attempt:
                    added, last = [], previous
                    for _ in specs:
                        last = service_view.service.add(
                            'count', PersistentMapping(value=0, sleep=0.002),
                            tag='chains', after=() if last is None else last)
                        added.append(last)
            chain.extend(added)
    return ids


def check_chains_and_fan_in(workers, service_view, chains=CHAINS,
                            length=LENGTH, deadline=RUN_DEADLINE):
    """The scenario (see the module's docstring) with ``workers`` (a
    ``zeo.conftest.Workers``) on the service of ``service_view``."""
    service_view.set(leaseTimeout=2.0)
    # Added before the workers start: 50 new ids split the last buckets of
    # the id sets that the workers' folds change, so a big add racing them
    # may conflict on every retry (a ZODB hot spot, not what this tests).
    chains = add_chains(service_view, chains, length)
    started = [workers.start(threads=2) for _ in range(3)]
    fan_in = service_view.add('count', PersistentMapping(value=0),
                              afterTag='chains')
    tails = service_view.add('count', PersistentMapping(value=0),
                             after=[chain[-1] for chain in chains])
    wait_for(lambda: service_view.counts()[COMPLETED] >= 300, deadline,
             'the workers did not get going')
    victim = started[0]
    workers.kill(victim)
    every = [jobid for chain in chains for jobid in chain]
    jobs = service_view.wait_finished(every + [fan_in, tails], deadline)
    assert [job.id for job in jobs if job.status != COMPLETED] == []
    # ZODB effects committed exactly once
    assert [job.id for job in jobs if job.input['value'] != 1] == []
    service = service_view.fresh()
    for chain in chains:                      # every chain in order
        for before, after in zip(chain, chain[1:]):
            assert service.jobs[after].started >= \
                service.jobs[before].completed, (before, after)
    last_end = max(job.completed for job in jobs[:-2])
    runs = workers.runs_by_job()
    for jobid in (fan_in, tails):
        job = service.jobs[jobid]
        assert job.started >= last_end if jobid == fan_in else \
            job.started >= max(service.jobs[c[-1]].completed
                               for c in chains)
        assert len(runs[jobid]) == 1, runs[jobid]   # ran once
    for worker in started[1:]:
        assert workers.stop(worker) == 0
    service = service_view.fresh()
    service.sweep()
    assert service.checkIndex() == []
