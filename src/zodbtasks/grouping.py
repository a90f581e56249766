"""Grouped execution: many small jobs of one task in one transaction.

A grouping task (``IBatchTask``: ``groupSize`` and ``runBatch``) gets up
to ``groupSize`` of the jobs a worker claimed at once in one call and
one commit, instead of one commit per job; ``SimpleTask(func,
groupSize=100)`` is one.  Jobs form a group only with jobs of the same
task, ``groupKey`` and principal (``runAs`` and ``runContext``: the
group runs in one interaction).

- ``GroupSizes(service)`` tells a claim how many jobs to take when the
  head of the queue is a grouping task's job (``Dispatch.claimJobs``);
  the claim still stops where holds say so (a serialization tag, a
  limited task), so those hold inside groups too.
- ``units(service, jobids)`` splits claimed jobs into what runs in one
  transaction each: groups, in the order of their first job, and single
  jobs.
- ``execute_group`` runs one group inside the caller's transaction and
  returns each job's outcome, which the runner records: a failing
  ``runBatch`` (or a result that cannot be stored) is rolled back to a
  savepoint and each job runs alone in a savepoint of its own, so one
  bad job fails alone.

The runner (``zodbtasks.runner.run_group``) owns the transaction: it
retries a conflicting group, then halves it down to single jobs.
Nothing here commits.
"""
import logging
import numbers
import traceback as traceback_module


from zodbtasks import identity
from zodbtasks import interfaces
from zodbtasks import limits
from zodbtasks import storage
from zodbtasks.interfaces import MAX_GROUP_SIZE
from zodbtasks.interfaces import PROCESSING

logger = logging.getLogger(__name__)


class SavepointsUnsupported(Exception):
    """A data manager in the group's transaction cannot take savepoints:
    the group's jobs must run in transactions of their own."""


def check_group_size(size, what='groupSize'):
    """``size``: a whole number from 1 to MAX_GROUP_SIZE."""
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) \
            or not 1 <= size <= MAX_GROUP_SIZE:
        raise ValueError('%s: expected a whole number from 1 to %d, not '
                         '%.80r' % (what, MAX_GROUP_SIZE, size))
    return int(size)


def group_size(task):
    """How many jobs of ``task`` one group takes; None when it does not
    group (it is not an IBatchTask)."""
    if task is None or not interfaces.IBatchTask.providedBy(task):
        return None
    try:
        return check_group_size(getattr(task, 'groupSize', 1))
    except ValueError as exc:
        logger.error('task %r runs its jobs in groups of one: %s', task,
                     exc)
        return 1


class GroupSizes:
    """``sizes(job)``: the group size of ``job``'s task (None: it does
    not group), looked up once per task name."""

    def __init__(self, service):
        self.service = service
        self._sizes = {}

    def __call__(self, job):
        name = job.task
        if name not in self._sizes:
            self._sizes[name] = group_size(
                self.service.getSiteManager().queryUtility(
                    self.service.taskInterface, name))
        return self._sizes[name]


class Unit:
    """Claimed jobs that run in one transaction: a group (``batch``) or
    a single job."""

    def __init__(self, size, batch):
        self.size, self.batch = size, batch
        self.ids = []


def units(service, jobids):
    """The claimed ``jobids`` as Units, in the order of each unit's first
    job.  A callback of a group runs alone (its input is made when it
    runs)."""
    sizes = GroupSizes(service)
    found, open_units = [], {}
    for jobid in jobids:
        job = service.jobs.get(jobid)
        size = sizes(job) if job is not None else None
        if size is None or job.callbackOf is not None:
            unit = Unit(1, False)
            unit.ids.append(jobid)
            found.append(unit)
            continue
        key = (job.task, job.groupKey, job.runAs, job.runContext)
        unit = open_units.get(key)
        if unit is None or len(unit.ids) >= unit.size:
            unit = open_units[key] = Unit(size, True)
            found.append(unit)
        unit.ids.append(jobid)
    return found


def execute_group(service, tm, jobids, owner):
    """Run the claimed jobs ``jobids`` of one grouping task in the current
    transaction of ``tm``; return ``(job, result, exception)`` for each
    (exception None: it completed).  Jobs no longer ``processing`` under
    ``owner`` (after an outage, their outcome committed) are left out.
    The caller records the outcomes in the same transaction."""
    jobs = [job for job in (service.jobs.get(jobid) for jobid in jobids)
            if job is not None and job.status == PROCESSING
            and job.owner == owner]
    if not jobs:
        return []
    task = service.getTask(jobs[0].task)
    txn = tm.get()
    try:
        with service.jobEnvironment(jobs[0]) as bound:
            outcomes = _run_batch(bound, task, jobs, txn)
    except identity.PrincipalGone as exc:  # raised before the task ran
        outcomes = [(None, exc)] * len(jobs)
    if tm.get() is not txn:
        logger.warning('task %r committed or aborted the transaction of a '
                       'group: its effects are not atomic with the jobs\' '
                       'statuses', jobs[0].task)
    return [(job, output, exc) for job, (output, exc) in zip(jobs, outcomes)]


def error_of(exc):
    """The error message and traceback text a failed job records."""
    if isinstance(exc, (interfaces.TaskError, interfaces.JobCancelled)):
        message = str(exc)
    else:
        message = '%s: %s' % (type(exc).__name__, exc)
    text = None
    if exc.__traceback__ is not None \
            and not isinstance(exc, interfaces.JobCancelled):
        text = ''.join(traceback_module.format_exception(
            type(exc), exc, exc.__traceback__))
    return message, text


def savepoint(txn):
    """A savepoint of ``txn``; SavepointsUnsupported when a data manager
    in it cannot take one."""
    try:
        return txn.savepoint()
    except TypeError as exc:
        raise SavepointsUnsupported(str(exc)) from exc


def passes(exc):
    """Whether ``exc`` is for the transaction (a conflict, an outage, a
    data manager without savepoints), not for one job."""
    return isinstance(exc, SavepointsUnsupported) \
        or storage.is_conflict(exc) or storage.is_unavailable(exc)


def _run_batch(service, task, jobs, txn):
    """(result, None) or (None, exception) per job: the whole group in
    one call, else each job alone."""
    whole = savepoint(txn)
    try:
        return _checked(service, task, jobs, task.runBatch(service,
                                                           list(jobs)))
    except Exception as exc:
        if passes(exc):
            raise
        if len(jobs) == 1:
            whole.rollback()
            return [(None, exc)]
        logger.info('a group of %d %r jobs failed as a whole (%s: %s); '
                    'running each alone', len(jobs), jobs[0].task,
                    type(exc).__name__, exc)
        whole.rollback()
    return [_alone(service, task, job, txn) for job in jobs]


def _alone(service, task, job, txn):
    point = savepoint(txn)
    try:
        return _checked(service, task, [job], task.runBatch(service,
                                                            [job]))[0]
    except Exception as exc:
        if passes(exc):
            raise
        point.rollback()
        return None, exc


def _checked(service, task, jobs, outputs):
    """Pair ``outputs`` with their exceptions; raise when runBatch's
    answer does not fit the jobs or a result cannot be stored (the
    group then runs each job alone)."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) \
        else outputs
    if not isinstance(outputs, list) or len(outputs) != len(jobs):
        raise interfaces.TaskError(
            'runBatch of task %r returned %s for %d jobs; expected a list '
            'of one result (or exception) per job' % (
                jobs[0].task, '%d results' % len(outputs)
                if isinstance(outputs, list) else type(outputs).__name__,
                len(jobs)))
    paired = []
    for job, output in zip(jobs, outputs):
        if isinstance(output, BaseException):
            if not isinstance(output, Exception):
                raise output
            paired.append((None, output))
            continue
        limits.check_result(output, service.maxInputSize,
                            'result of job %s (task %r)' % (job.id,
                                                            job.task))
        paired.append((output, None))
    return paired
