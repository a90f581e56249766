"""One legacy job's state turned into a zodbtasks job, and where it
waits: pure (no database, no clock: ``now`` is passed in).

Statuses: lovely's names are zodbtasks' but for 'start later', which is
``startlater``.  Where a waiting job waits follows from where the legacy
service held it (``found``):

- ``queued`` in ``_queue``: queued, in the queue's order;
- ``cronjob`` or ``delayed`` in ``_scheduledJobs`` at second T: scheduled
  for T (the run lovely had computed is kept; later runs are zodbtasks');
- ``cronjob`` or ``delayed`` in ``_scheduledQueue`` (added or rescheduled
  and not yet seen by a processor): waits for a processor to schedule it,
  as lovely's would have (``delayed``: its delay from then);
- ``cronjob`` in neither: scheduled afresh the same way (a repeating job
  loses nothing by it);
- ``queued`` or ``delayed`` in neither, and ``processing``: the job was
  taken by a processor that did not finish it (lovely's MultiProcessor
  commits the claim before the run; lovely never ran it again): it
  becomes ``error`` with a message saying so, and ``retry`` queues it.

Cron fields map one to one onto zodbtasks' lovely-style fields (all
given fields must match, Monday=0, UTC: what they meant in lovely), not
onto a cron string, whose day rule (day of month OR day of week) and
Sunday=0 differ.  A delayed job keeps only its delay (lovely ignored its
fields too).
"""
import collections

from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import CRONJOB
from zodbtasks.interfaces import DELAYED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.interfaces import STARTLATER
from zodbtasks.interfaces import ScheduleError
from zodbtasks.job import CronJob
from zodbtasks.job import Job
from zodbtasks.migration.legacy import MigrationError
from zodbtasks.migration.legacy import epoch
from zodbtasks.migration.legacy import error_text

#: lovely.remotetask's (and z3c.taskqueue's) status values -> zodbtasks'.
STATUSES = {
    'queued': QUEUED, 'processing': PROCESSING, 'cancelled': CANCELLED,
    'error': ERROR, 'completed': COMPLETED, 'delayed': DELAYED,
    'cronjob': CRONJOB, 'start later': STARTLATER,
}
#: Where the legacy service held a job.
IN_QUEUE = 'queue'
IN_SCHEDULED_QUEUE = 'scheduled queue'
IN_SCHEDULE = 'schedule'
NOWHERE = None
#: Where the new job waits: in the ready queue at a ready time, scheduled
#: at a time, or in the queue for a processor to schedule it.
QUEUE = 'queue'
SCHEDULE = 'schedule'
TO_SCHEDULE = 'to schedule'

CRON_FIELDS = ('minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek')

#: ``job``: the new job (not stored); ``place``: QUEUE, SCHEDULE,
#: TO_SCHEDULE or None (it does not wait in a queue); ``at``: the time for
#: SCHEDULE; ``note``: why its status differs from the legacy one, or None.
Converted = collections.namedtuple('Converted', 'job place at note')

LOST = ('taken by a processor that did not finish it (lovely.remotetask '
        'never runs such a job again)')
NOTES = {
    (QUEUED, NOWHERE): 'queued but not in the queue: ' + LOST,
    (DELAYED, NOWHERE): 'delayed but not scheduled: ' + LOST,
    PROCESSING: 'processing: ' + LOST,
    CRONJOB: 'cron job not scheduled: scheduled afresh',
}


def legacy_status(state, what):
    """The zodbtasks status of a legacy job's state; MigrationError for a
    value lovely never had."""
    status = state.get('status')
    if status not in STATUSES:
        raise MigrationError('%s: status %r is not one of lovely.remotetask'
                             "'s (%s)" % (what, status, ', '.join(
                                 repr(name) for name in STATUSES)))
    return STATUSES[status]


def is_cron_state(state, cls_name):
    """Whether the job is a CronJob (by its class name, or by the fields
    only a CronJob's __init__ writes, for subclasses)."""
    return cls_name.endswith('CronJob') or 'delay' in state or any(
        name in state for name in CRON_FIELDS)


def job_id(state, what):
    jobid = state.get('id')
    if type(jobid) is not int or jobid < 1:
        raise MigrationError('%s: id %r cannot be kept: zodbtasks job ids '
                             'are whole numbers from 1 on' % (what, jobid))
    return jobid


def task_name(state, what):
    task = state.get('task')
    if isinstance(task, bytes):
        raise MigrationError(
            '%s: task %r is bytes: convert the database with zodbupdate '
            '--convert-py3 --encoding utf-8 first (docs/migrating.rst)'
            % (what, task))
    if not isinstance(task, str) or not task:
        raise MigrationError('%s: task %r is not a task name' % (what, task))
    return task


def convert(state, cls_name, found, at, what, tz, now):
    """A ``Converted`` for the legacy job ``state`` (its class named
    ``cls_name``), held ``found`` (IN_QUEUE, IN_SCHEDULED_QUEUE,
    IN_SCHEDULE at second ``at``, or NOWHERE); ``what`` names the job in
    messages; naive times are in ``tz`` (None: local time); ``now`` is
    the completion time of jobs that become ``error``."""
    jobid = job_id(state, what)
    what = '%s job %s' % (what, jobid)
    task = task_name(state, what)
    status = legacy_status(state, what)
    created = epoch(state.get('created'), tz, what + ' created')
    job = _make(state, cls_name, jobid, task, created, what)
    job.output = state.get('output')
    job.error = error_text(state.get('error'))
    job.started = epoch(state.get('started'), tz, what + ' started')
    job.completed = epoch(state.get('completed'), tz, what + ' completed')
    waiting = (QUEUED, DELAYED, CRONJOB)
    if status in waiting and status != job.waiting_status:
        raise MigrationError('%s: status %r does not fit a %s%s' % (
            what, state.get('status'), cls_name,
            ' with a delay' if getattr(job, 'isDelayed', False) else ''))
    place, note = None, None
    if status == QUEUED and found == IN_QUEUE:
        place = QUEUE
    elif status in (DELAYED, CRONJOB) and found == IN_SCHEDULED_QUEUE:
        place = TO_SCHEDULE
    elif status in (DELAYED, CRONJOB) and found == IN_SCHEDULE:
        place = SCHEDULE
    elif status == CRONJOB:
        place, note = TO_SCHEDULE, NOTES[CRONJOB]
    elif status in waiting or status == PROCESSING:
        note = NOTES.get((status, NOWHERE)) or NOTES[PROCESSING]
        previous = '; before: %s' % job.error if job.error else ''
        job.recordFailure('migrated as error: %s%s' % (note, previous))
        job.completed = job.completed or now
        status = ERROR
    job.status = status
    return Converted(job, place, float(at) if place == SCHEDULE else None,
                     note)


def _make(state, cls_name, jobid, task, created, what):
    if not is_cron_state(state, cls_name):
        return Job(jobid, task, state.get('input'), created=created)
    delay = state.get('delay')
    if delay == 0:
        delay = None  # lovely's update() turns 0 into None as well
    if delay is not None:
        schedule = {'delay': delay}
    else:
        schedule = {}
        for name in CRON_FIELDS:
            value = state.get(name) or ()
            try:
                schedule[name] = tuple(value)
            except TypeError:
                raise MigrationError('%s: %s %r is not a tuple of numbers'
                                     % (what, name, value)) from None
    try:
        return CronJob(jobid, task, state.get('input'), created=created,
                       **schedule)
    except (ScheduleError, TypeError, ValueError) as exc:
        raise MigrationError('%s: its schedule cannot be kept: %s'
                             % (what, exc)) from exc
