"""Bulk actions: cancel, retry, delete or requeue every job a selector
(``zodbtasks.search``) matches, as a job of the service itself (the
built-in task ``zodbtasks.bulk``), in chunks of their own transactions,
with progress.

``startBulk(service, action, selector)`` adds the job and returns its
id; ``countMatching(service, selector)`` says how many jobs it would
touch (what the confirmation names).  The job walks the matching ids
newest first (by finish time with a finished range) and acts on up to
CHUNK_SIZE of them per transaction, committed in a connection of its own
(so a chunk is visible while the job runs, and what was done stays done
if it is cancelled or its worker dies: a retried bulk job starts over,
and finds what it already changed no longer matching); it reports its
progress (the share of the id or time range walked) after every chunk,
and its ``reportProgress`` is where a cancel of the bulk job takes
effect.  It never acts on a bulk job (itself or another).

Actions: ``cancel`` (waiting jobs; running ones are asked to stop at
their next checkpoint, as ``cancel(jobid)``), ``retry`` (failed and
cancelled jobs queued again), ``delete`` (every job that is not
running), ``requeue`` (run now: start-later jobs are started and jobs
delayed to a time, or waiting for a retry's back-off, are queued now;
cron jobs are left on their schedule).

Design note: one big transaction was rejected (a million changed jobs
in one commit: memory, and conflicts with every worker for its whole
length), and so was a job per chunk (the progress and the outcome of one
operator action would be spread over many jobs).
"""
import collections
import logging

import zope.interface

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks import search
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.task import reportProgress
from zodbtasks.transactions import in_transaction
from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)

#: The name of the built-in task (registered in configure.zcml).
BULK_TASK = 'zodbtasks.bulk'
#: Jobs acted on per transaction, and candidates looked at per
#: transaction at most (a text search loads every candidate).
CHUNK_SIZE = 500
CHUNK_BUDGET = 5000
#: Matching jobs counted for a confirmation at most, and the candidates
#: and jobs looked at for it (beyond: "more than").
COUNT_LIMIT = 1000000
COUNT_BUDGET = 200000
COUNT_JOB_BUDGET = 20000

Matching = collections.namedtuple('Matching', 'count exact')


def _requeue(service, jobid, now):
    """Run a start-later job, or a job delayed to a time, now."""
    job = service.jobs[jobid]
    if job.status == STARTLATER:
        return service.startJob(jobid, now=now)
    if job.status != DELAYED or interfaces.ICronJob.providedBy(job):
        return False
    job, maps = service._settled(jobid)
    maps.unschedule(job)
    maps.wait(job, QUEUED, now)
    return True


#: action -> (what it does to one job: True when it changed it, the
#: past tense for messages).
ACTIONS = {
    'cancel': (lambda service, jobid, now: service.cancel(jobid),
               'cancelled'),
    'retry': (lambda service, jobid, now: service.retry(jobid, now=now),
              'queued again'),
    'delete': (lambda service, jobid, now: service.delete(jobid),
               'deleted'),
    'requeue': (_requeue, 'queued to run now'),
}


def check_action(action):
    if action not in ACTIONS:
        raise ValueError('not a bulk action: %r (one of %s)'
                         % (action, ', '.join(sorted(ACTIONS))))
    return action


def check_groups(selector):
    """``selector``, or SelectorError when it has an ``error_group`` and
    ``zodbtasks.failures`` is missing: a search ignores the key then,
    and a bulk action would touch more jobs than the group's."""
    if 'error_group' in selector and search.group_key_function() is None:
        raise search.SelectorError('error_group', 'error groups need '
                                   'zodbtasks.failures, which is missing')
    return selector


def countMatching(service, selector, limit=COUNT_LIMIT):
    """``Matching(count, exact)``: how many jobs of ``service`` match
    ``selector`` (``exact`` False: at least ``count``, counting stopped
    at ``limit`` or at its budget of candidates looked at); exact from
    the index's counts when the selector has status, task and tag only.
    Bulk jobs are left out only when they are counted one by one."""
    selector = search.check_selector(selector)
    if not search.is_search(selector):
        total, _ = service._index.query(
            service.jobs, status=selector.get('status'),
            task=selector.get('task'), tag=selector.get('tag'), size=0)
        return Matching(total, True)
    found = search.Search(service, selector, budget=COUNT_BUDGET,
                          job_budget=COUNT_JOB_BUDGET)
    count = 0
    for jobid in found.ids():
        if count >= limit:
            return Matching(count, False)
        count += 1
    return Matching(count, found.exhausted)


def startBulk(service, action, selector, now=None):
    """Add the bulk job that applies ``action`` (cancel, retry, delete,
    requeue) to the jobs matching ``selector``; return its id (ValueError,
    or ``search.SelectorError`` naming the key, for a bad one)."""
    check_action(action)
    selector = check_groups(search.check_selector(selector))
    expected = countMatching(service, selector)
    return service.add(BULK_TASK, {
        'action': action, 'selector': selector,
        'expected': expected.count, 'exact': expected.exact}, now=now)


def run_chunk(service, action, selector, after, now, size=None,
              budget=None):
    """Apply ``action`` to up to ``size`` (CHUNK_SIZE) matching jobs after
    the walk's key ``after``, looking at ``budget`` (CHUNK_BUDGET)
    candidates at most; return (changed, skipped, key to continue after,
    or None when the walk is over).  The caller owns the transaction."""
    act = ACTIONS[action][0]
    size = CHUNK_SIZE if size is None else size
    budget = CHUNK_BUDGET if budget is None else budget
    found = search.Search(service, selector, budget=budget)
    changed = skipped = 0
    for _, jobid in found.keys(reverse=True, after=after):
        job = service.jobs.get(jobid)
        if job is None or job.task == BULK_TASK \
                or not act(service, jobid, now):
            skipped += 1
        else:
            changed += 1
        if changed + skipped >= size:
            return changed, skipped, found.position
    if not found.exhausted and found.position is not None:
        return changed, skipped, found.position
    return changed, skipped, None


def fraction_done(service, selector, position):
    """How much of the walk lies behind ``position`` (0.0 to 1.0)."""
    if position is None:
        return 1.0
    if isinstance(position, tuple):
        index = service._index.completed
        low = selector.get('finished_from')
        high = selector.get('finished_to')
        if not index:
            return 1.0
        low = max(low or 0.0, index.minKey()[0])
        high = min(high if high is not None else float('inf'),
                   index.maxKey()[0])
        at = position[0]
    else:
        low, high = search.id_range(selector)
        if not service.jobs:
            return 1.0
        low = max(low, service.jobs.minKey())
        high = min(high, service.jobs.maxKey())
        at = position
    if high <= low:
        return 1.0
    return min(max((high - at) / (high - low), 0.0), 1.0)


@zope.interface.implementer(interfaces.ITask)
class BulkTask:
    """The built-in task of bulk actions (see the module docstring); its
    input: {'action', 'selector', 'expected', 'exact'}."""

    def __repr__(self):
        return '<BulkTask %s>' % BULK_TASK

    def __call__(self, service, jobid, input):
        action = check_action(input['action'])
        selector = check_groups(search.check_selector(input['selector']))
        totals = {'changed': 0, 'skipped': 0}
        position = None
        while True:
            now, before = clock.now(), position
            changed, skipped, position = self._chunk(
                service, action, selector, position, now)
            if position is not None and position == before:
                raise RuntimeError('bulk job %s did not progress after %r'
                                   % (jobid, position))   # a bug: stop
            totals['changed'] += changed
            totals['skipped'] += skipped
            message = '%d jobs %s, %d left as they were' % (
                totals['changed'], ACTIONS[action][1], totals['skipped'])
            reportProgress(service, jobid,
                           fraction_done(service, selector, position),
                           message)
            if position is None:
                break
        logger.info('bulk job %s: %s (%s)', jobid, message,
                    search.describe(selector))
        return dict(totals, action=action, selector=selector,
                    message=message)

    @staticmethod
    def _chunk(service, action, selector, position, now):
        jar = service._p_jar
        if jar is None:
            return run_chunk(service, action, selector, position, now)
        with own_connection(jar.db()) as (connection, tm):
            return in_transaction(tm, lambda: run_chunk(
                connection.get(service._p_oid), action, selector, position,
                now))


BULK = BulkTask()
