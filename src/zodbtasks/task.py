"""Tasks: ``SimpleTask`` wraps a function; ``TaskError`` is what a task
raises for an expected failure."""
import zope.interface

from zodbtasks import interfaces


class TaskError(Exception):
    """An expected failure of a task: the job's status becomes ``error``
    and ``getError`` gives this error's message."""


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
