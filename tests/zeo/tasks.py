"""Tasks of the ZEO tests, registered in the worker processes by
``tasks.zcml`` (which the test instances' site.zcml includes) and in the
test process by ``register``.

A job's input is a ``PersistentMapping`` of its own (a per-job counter),
so that jobs never write the same object: ``count`` increments
``input['value']`` in the job's transaction, so a counter above 1 means
the job's ZODB effects committed twice.  ``count`` also appends
``JOBID PID`` to the file named by ``ZODBTASKS_TEST_RUNS``, outside the
ZODB, so that the tests see every run, committed or not.
"""
import os
import time

import zope.interface

from zodbtasks import testing
from zodbtasks.interfaces import IBatchTask

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
#: The tasks by name, as tasks.zcml registers them.
TASKS = {'count': count, 'hold': hold, 'span': span, 'patient': patient,
         'grouped': grouped}


def register():
    """Register the tasks in the global registry of this process."""
    for name, task in TASKS.items():
        testing.register_task(name, task)
