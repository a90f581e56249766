"""Tasks of the ZEO tests, registered in the worker processes by
``tasks.zcml`` (which the test instances' site.zcml includes) and in the
test process by ``register``.

A job's input is a ``PersistentMapping`` of its own (a per-job counter),
so that jobs never write the same object: ``count`` increments
``input['value']`` in the job's transaction, so a counter above 1 means
the job's ZODB effects committed twice.  ``count`` also appends
``JOBID PID`` to the file named by ``ZODBTASKS_TEST_RUNS``, outside the
ZODB, so that the tests see every run, committed or not.

The group tasks (``member``, ``collect``) and the chain task (``step``)
write their effects into persistent objects that the test made and put
in their inputs: a member adds 1 to its counter in a shared IIBTree
keyed by its position (members change different keys, which BTrees
merge), a callback or a step appends what it saw to a PersistentList.
"""
import os
import time

import zope.interface

from zodbtasks import testing
from zodbtasks.interfaces import IBatchTask
from zodbtasks.interfaces import TaskError

#: The environment variable naming the run log of ``count``.
RUNS_VARIABLE = 'ZODBTASKS_TEST_RUNS'
#: The environment variable naming the file where ``span`` records when
#: each run started and ended.
SPANS_VARIABLE = 'ZODBTASKS_TEST_SPANS'


#: The ITask calling ``func(service, jobid, input)``.
Task = testing.ServiceTask


def _count(service, jobid, input):
    """Sleep ``input['sleep']`` seconds, then add 1 to ``input['value']``;
    return this process's pid."""
    record_run(jobid)
    time.sleep(input.get('sleep', 0.0))
    input['value'] = input.get('value', 0) + 1
    return os.getpid()


def _hold(service, jobid, input):
    """Sleep ``input`` seconds (a long job)."""
    record_run(jobid)
    time.sleep(input)
    return 'held %s' % (input,)


def _span(service, jobid, input):
    """Sleep ``input`` seconds; append ``JOBID PID START END`` (epoch
    seconds) to the file named by ZODBTASKS_TEST_SPANS."""
    start = time.time()
    time.sleep(input)
    end = time.time()
    path = os.environ.get(SPANS_VARIABLE)
    if path:
        with open(path, 'a') as f:
            f.write('%d %d %r %r\n' % (jobid, os.getpid(), start, end))
    return os.getpid()


def _patient(service, jobid, input):
    """Add 1 to ``input['value']``, then call checkpoint every 10 ms for
    up to ``input['seconds']`` seconds (a cancel stops it)."""
    from zodbtasks.task import checkpoint
    record_run(jobid)
    input['value'] = input.get('value', 0) + 1
    end = time.monotonic() + input.get('seconds', 30.0)
    while time.monotonic() < end:
        checkpoint(service, jobid)
        time.sleep(0.01)
    return os.getpid()


def _progress(service, jobid, input):
    """Report progress in 20 steps over ``input`` seconds (the operator
    UI's browser tests watch the bars move)."""
    from zodbtasks.task import reportProgress
    for step in range(1, 21):
        time.sleep(input / 20.0)
        reportProgress(service, jobid, step / 20.0,
                       'step %d of 20' % step)
    return 'done in %s s' % (input,)


def _broken(service, jobid, input):
    """Fail as ``input`` says: 'missing N' raises LookupError, 'timeout
    N' a TaskError (two groups of the Failures tab); else return it."""
    kind, _, number = str(input).partition(' ')
    if kind == 'missing':
        raise LookupError('record %s is missing' % number)
    if kind == 'timeout':
        raise TaskError('upstream timed out after %s s' % number)
    return input


@zope.interface.implementer(IBatchTask)
class GroupedCount:
    """``count`` as a grouping task: up to 20 jobs in one transaction;
    each group's ids go to the run log as one line ``G PID ID,ID,...``
    before it runs, so the tests see every group, committed or not."""

    groupSize = 20

    def __call__(self, service, jobid, input):
        return _count(service, jobid, input)

    def runBatch(self, service, jobs):
        path = os.environ.get(RUNS_VARIABLE)
        if path:
            with open(path, 'a') as f:
                f.write('G %d %s\n' % (os.getpid(), ','.join(
                    str(job.id) for job in jobs)))
        return [_count(service, job.id, job.input) for job in jobs]


def _member(service, jobid, input):
    """A group member: add 1 to ``input['counters'][input['n']]``, then
    fail (TaskError) when ``input['fail']``, or sleep ``input['sleep']``
    seconds (``input['straggle']`` seconds on its first attempt, so that a
    test can kill its worker while it runs); return ``n * n``."""
    record_run(jobid)
    n = input['n']
    counters = input['counters']
    counters[n] = counters.get(n, 0) + 1
    if input.get('fail'):
        raise TaskError('member %d fails' % n)
    seconds = input.get('sleep', 0.0)
    if input.get('straggle') and service.jobs[jobid].attempts == 1:
        seconds = input['straggle']
    time.sleep(seconds)
    return n * n


def _collect(service, jobid, input):
    """A group's callback: append ``(jobid, pid, results, errors)`` to
    ``input['runs']`` (errors None without onFailure='run'); return the
    number of results."""
    record_run(jobid)
    errors = input.get('errors')
    input['runs'].append((jobid, os.getpid(), list(input['results']),
                          None if errors is None else list(errors)))
    return len(input['results'])


def _step(service, jobid, input):
    """A chain step: ``value`` is the previous step's result (or
    ``input['start']``); append ``(jobid, pid, value, new)`` to
    ``input['log']`` and return ``new = value * 10 + input['digit']``."""
    record_run(jobid)
    value = input['result'] if 'result' in input else input['start']
    new = value * 10 + input['digit']
    input['log'].append((jobid, os.getpid(), value, new))
    return new


def record_run(jobid):
    path = os.environ.get(RUNS_VARIABLE)
    if path:
        with open(path, 'a') as f:
            f.write('%d %d\n' % (jobid, os.getpid()))


count = Task(_count)
hold = Task(_hold)
span = Task(_span)
patient = Task(_patient)
grouped = GroupedCount()
member = Task(_member)
collect = Task(_collect)
step = Task(_step)
progress = Task(_progress)
broken = Task(_broken)
#: The tasks by name, as tasks.zcml registers them.
TASKS = {'count': count, 'hold': hold, 'span': span, 'patient': patient,
         'grouped': grouped, 'member': member, 'collect': collect,
         'step': step, 'progress': progress, 'broken': broken}


def register():
    """Register the tasks in the global registry of this process."""
    for name, task in TASKS.items():
        testing.register_task(name, task)
