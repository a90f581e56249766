"""Tasks: ``SimpleTask`` wraps a function; ``TaskError`` is what a task
raises for an expected failure; ``reportProgress`` tells operators how far
a running task got."""
import logging

import zope.interface
from transaction.interfaces import TransientError

from zodbtasks import interfaces
from zodbtasks.dispatch import Dispatch
from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)


TaskError = interfaces.TaskError  # its home until 0.1; both names work


@zope.interface.implementer(interfaces.ITask)
class SimpleTask:
    """An ITask calling ``func(input)``."""

    def __init__(self, func):
        self.func = func

    def __repr__(self):
        return '<%s %s>' % (self.__class__.__name__,
                            getattr(self.func, '__qualname__', self.func))

    def __call__(self, service, jobid, input):
        return self.func(input)


def reportProgress(service, jobid, fraction, message=None):
    """Record that job ``jobid`` of ``service`` is ``fraction`` (0.0 to 1.0)
    done, with an optional short message, for the operators' UI.

    Call it from a running task.  The report commits at once in a
    transaction of its own (a connection of its own with its own
    transaction manager), so it is visible while the job still runs and
    never conflicts with the job's transaction.  A report that conflicts
    with another is dropped (a later one replaces it anyway).
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError('progress must be between 0.0 and 1.0, not %r'
                         % (fraction,))
    progress = (float(fraction), None if message is None else str(message))
    jar = service._p_jar
    if jar is None:
        Dispatch(service).setProgress(jobid, *progress)
        return
    with own_connection(jar.db()) as (connection, tm):
        try:
            with tm:
                Dispatch(connection.get(service._p_oid)).setProgress(
                    jobid, *progress)
        except TransientError:
            logger.debug('progress report of job %s dropped (conflict)',
                         jobid)
