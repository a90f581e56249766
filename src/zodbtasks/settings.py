"""The settings of a task service: the fields of IReadTaskService that
``set_schema`` lets managers change, with their defaults and checks.

``ServiceSettings`` is a base class of ``TaskService`` holding only these
attributes and properties; it calls nothing of the service.
"""
from zodbtasks import options
from zodbtasks import startup
from zodbtasks.keys import AGING_STEP


class ServiceSettings:
    """See IReadTaskService (pollInterval, leaseTimeout, heartbeatInterval,
    agingStep, maxInputSize)."""

    pollInterval = 1.0
    leaseTimeout = 60.0
    _maxInputSize = None
    _agingStep = AGING_STEP

    @property
    def agingStep(self):
        """See ITaskService."""
        return self._agingStep

    @agingStep.setter
    def agingStep(self, step):
        self._agingStep = options.check_aging_step(step)

    @property
    def maxInputSize(self):
        """See ITaskService: set on the service, or the product-config
        ``max-input-size``, or 1048576."""
        if self._maxInputSize is not None:
            return self._maxInputSize
        return startup.max_input_size()

    @maxInputSize.setter
    def maxInputSize(self, size):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError('maxInputSize must be a number of bytes >= 1, '
                             'not %r' % (size,))
        self._maxInputSize = size

    @maxInputSize.deleter
    def maxInputSize(self):
        self._maxInputSize = None

    @property
    def heartbeatInterval(self):
        """See ITaskService."""
        return self.leaseTimeout / 4.0
