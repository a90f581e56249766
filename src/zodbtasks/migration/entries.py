"""Walking a legacy service's structures from a cursor, in the order the
migration copies them (see ``zodbtasks.migration.record.PHASES``): the
ready queue, the queue of jobs still to be scheduled, the schedule (in
time order), then every job by id.  A job met in an earlier structure is
copied from there; met again, it is skipped.

``walk(state, phase, cursor)`` yields ``(cursor after it, job, found,
at)``: reading from the cursor returned with the last entry taken goes
on with the next one.
"""
import itertools

from zodbtasks.migration import convert
from zodbtasks.migration.legacy import MigrationError
from zodbtasks.migration.legacy import SERVICE_ATTRIBUTES


def check_layout(state, what):
    """MigrationError when a service's state lacks what lovely's has."""
    missing = [name for name in SERVICE_ATTRIBUTES if state.get(name) is None]
    if missing:
        raise MigrationError(
            '%s: not the layout of a lovely.remotetask or z3c.taskqueue '
            'service: it has no %s (it has %s)' % (
                what, ', '.join(missing),
                ', '.join(sorted(map(str, state))) or 'no state'))
    for name in ('jobs', '_scheduledJobs'):
        if not hasattr(state[name], 'items'):
            raise MigrationError('%s: its %s is a %s, not a BTree'
                                 % (what, name, type(state[name]).__name__))


def walk(state, phase, cursor):
    if phase == 'queue':
        return _positions(state['_queue'], convert.IN_QUEUE, cursor)
    if phase == 'scheduled queue':
        return _positions(state['_scheduledQueue'],
                          convert.IN_SCHEDULED_QUEUE, cursor)
    if phase == 'schedule':
        return _schedule(state['_scheduledJobs'], cursor)
    if phase == 'jobs':
        return _jobs(state['jobs'], cursor)
    raise ValueError('no entries in phase %r' % phase)


def _positions(queue, found, cursor):
    start = cursor or 0
    for position, job in enumerate(itertools.islice(iter(queue), start,
                                                    None), start):
        yield position + 1, job, found, None


def _schedule(tree, cursor):
    items = tree.items() if cursor is None else tree.items(min=cursor[0])
    for when, jobs in items:
        for index, job in enumerate(jobs):
            if cursor is not None and (when, index) <= tuple(cursor):
                continue
            yield (when, index), job, convert.IN_SCHEDULE, when


def _jobs(tree, cursor):
    items = tree.items() if cursor is None else tree.items(
        min=cursor, excludemin=True)
    for jobid, job in items:
        yield jobid, job, convert.NOWHERE, None
