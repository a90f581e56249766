"""The demo that ``make run`` serves: four tasks, and a site ``demo`` with
a task service ``jobs`` made when the database opens (see ``install``).

The tasks are registered in ``configure.zcml`` as named ITask utilities:

``echo``
    returns its input;
``fail``
    raises TaskError, as a task does when something it needs is missing;
``sleep``
    sleeps its input in seconds (default 5) in steps of 0.2 s, reporting
    its progress after each step;
``log``
    appends ``(time, input)`` to a persistent list of the service's site
    and returns the list's new length: its ZODB change commits with the
    job's status, or not at all.
"""
import math
import time

import zope.interface
from persistent.list import PersistentList

from zodbtasks import clock
from zodbtasks.interfaces import ITask
from zodbtasks.task import SimpleTask
from zodbtasks.task import TaskError
from zodbtasks.task import reportProgress

#: Seconds the ``sleep`` task sleeps when its input is None.
DEFAULT_SLEEP = 5.0
#: Seconds between two progress reports of the ``sleep`` task.
SLEEP_STEP = 0.2
#: The site attribute holding the ``log`` task's list.
LOG_ATTRIBUTE = 'zodbtasks_demo_log'


def echo(input):
    """Return the input."""
    return input


def fail(input):
    """Fail, as a task does when something it needs is missing."""
    raise TaskError('demo failure: %s' % (input,))


@zope.interface.implementer(ITask)
class SleepTask:
    """Sleep ``input`` seconds (default 5) in steps, reporting progress."""

    def __init__(self, step=SLEEP_STEP, sleep=time.sleep):
        self.step = step
        self.sleep = sleep

    def __call__(self, service, jobid, input):
        seconds = sleep_seconds(input)
        steps = max(1, math.ceil(seconds / self.step))
        for number in range(1, steps + 1):
            self.sleep(seconds / steps)
            reportProgress(service, jobid, number / steps,
                           'slept %.1f of %.1f s'
                           % (seconds * number / steps, seconds))
        return seconds


def sleep_seconds(input):
    """The ``sleep`` task's input as seconds; TaskError when it is not a
    finite, non-negative number."""
    if input is None:
        return DEFAULT_SLEEP
    try:
        seconds = float(input)
    except (TypeError, ValueError):
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise TaskError('sleep needs a number of seconds (0 or more), not '
                        '%r' % (input,))
    return seconds


@zope.interface.implementer(ITask)
class LogTask:
    """Append ``(time, input)`` to the site's demo log; return its length."""

    def __call__(self, service, jobid, input):
        site = service.getSite()
        if site is None:
            raise TaskError('the log task needs a task service in a site')
        entries = site_log(site)
        entries.append((clock.now(), input))
        return len(entries)


def site_log(site):
    """The demo log (a PersistentList) of ``site``, added when missing."""
    entries = getattr(site, LOG_ATTRIBUTE, None)
    if entries is None:
        entries = PersistentList()
        setattr(site, LOG_ATTRIBUTE, entries)
    return entries


echo_task = SimpleTask(echo)
fail_task = SimpleTask(fail)
sleep_task = SleepTask()
log_task = LogTask()
