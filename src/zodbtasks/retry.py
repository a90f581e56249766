"""Retry policies: how often, and after how long, a job runs again.

``RetryPolicy`` instances are stored on jobs (pickled by class path); 0.1
stored them as ``zodbtasks.job.RetryPolicy``, which stays importable.
"""
import dataclasses
import math
import random


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How a job is retried (stored on the job; immutable).

    ``maxAttempts``: how many times the job may be claimed in all.
    ``delay``: seconds before the first retry; each retry doubles it, with
    jitter (x0.5 to x1.5).  ``idempotent=False``: never run the job again
    once it started (a job whose worker was lost becomes ``error``).
    ``retryErrors``: also retry jobs whose task raised (by default a
    failing task's job becomes ``error`` at once).  ConflictErrors and
    storage outages are always retried and do not count as attempts.
    """

    maxAttempts: int = 3
    delay: float = 1.0
    idempotent: bool = True
    retryErrors: bool = False

    def __post_init__(self):
        if isinstance(self.maxAttempts, bool) \
                or not isinstance(self.maxAttempts, int) \
                or self.maxAttempts < 1:
            raise ValueError('maxAttempts must be a whole number >= 1, not '
                             '%r' % (self.maxAttempts,))
        if isinstance(self.delay, bool) \
                or not isinstance(self.delay, (int, float)) \
                or not math.isfinite(self.delay) or self.delay < 0:
            raise ValueError('delay must be a number of seconds >= 0, not '
                             '%r' % (self.delay,))

    def mayRetry(self, attempts):
        """Whether a job claimed ``attempts`` times may run again."""
        return self.idempotent and attempts < self.maxAttempts

    def mayRetryError(self, attempts):
        """Whether a job whose task failed after ``attempts`` claims runs
        again."""
        return self.retryErrors and self.mayRetry(attempts)

    def backOff(self, attempts, rng=random):
        """Seconds to wait before the next attempt."""
        return self.delay * 2 ** max(attempts - 1, 0) * rng.uniform(0.5, 1.5)


#: The policy of jobs added without one.
DEFAULT = RetryPolicy()
