"""The figures' values and their stored form (``zodbtasks.stats``
notes, writes and reads them).

A *row* holds one task's figures of a period: the counts ``COUNTS``
(completed, failed, cancelled, retried), the sums of the run times and
of the enqueue-to-start latencies, then the run-time histogram's
buckets (``RUN_BUCKETS``, +Inf last) and the latency histogram's
(``LATENCY_BUCKETS``); rows add up cell by cell.  ``Figures`` (one per
worker record, one per service) keeps running totals per task and a
``MinuteFigures`` per minute and per ``SLOT`` seconds for ``KEEP``
seconds; ``Tally`` and ``Minute`` are what the readers return.
"""
import persistent
from BTrees.IOBTree import IOBTree

from zodbtasks import interfaces

#: Upper bounds (seconds) of the run-time histogram (+Inf implied).
RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
               10.0, 30.0, 60.0, 300.0, 1800.0)
#: Upper bounds (seconds) of the enqueue-to-start latency histogram.
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                   60.0, 300.0, 1800.0, 3600.0, 21600.0)
#: Seconds of figures kept per minute and per slot.
KEEP = 24 * 3600
#: Seconds of one slot: what the day's chart reads per bar.
SLOT = 600

COUNTS = ('completed', 'failed', 'cancelled', 'retried')
_SUMS = len(COUNTS)                   # run_sum, latency_sum
_RUN = _SUMS + 2                      # run buckets
_LATENCY = _RUN + len(RUN_BUCKETS) + 1
ROW_SIZE = _LATENCY + len(LATENCY_BUCKETS) + 1


def _bucket(bounds, value):
    for index, bound in enumerate(bounds):
        if value <= bound:
            return index
    return len(bounds)


def empty_row():
    return [0] * ROW_SIZE


def runs_of(row):
    """How many runs ended in ``row`` (completed, failed, cancelled or
    retried)."""
    return sum(row[:_SUMS])


def add_rows(row, other):
    for index, value in enumerate(other):
        row[index] += value
    return row


class Tally:
    """Figures of a task, or of all tasks (read-only)."""

    conflicts = 0
    lease_expiries = 0

    def __init__(self, row=None):
        row = empty_row() if row is None else row
        self.row = tuple(row)
        for index, name in enumerate(COUNTS):
            setattr(self, name, row[index])
        self.finished = self.completed + self.failed + self.cancelled
        self.run_sum = row[_SUMS]
        self.latency_sum = row[_SUMS + 1]
        self.run_buckets = tuple(row[_RUN:_LATENCY])
        self.latency_buckets = tuple(row[_LATENCY:])

    @property
    def runs(self):
        return sum(self.run_buckets)

    def __repr__(self):
        return '<Tally finished=%d failed=%d retried=%d>' % (
            self.finished, self.failed, self.retried)


class Minute:
    """The figures of one minute (read-only)."""

    def __init__(self, start, rows, queue_depth):
        self.start = start
        self.by_task = {task: Tally(row) for task, row in rows.items()}
        total = empty_row()
        for row in rows.values():
            add_rows(total, row)
        self.total = Tally(total)
        self.queue_depth = queue_depth


def quantile(buckets, q, bounds=RUN_BUCKETS):
    """The ``q`` quantile (0..1) of a histogram, by linear interpolation
    inside its bucket (as Prometheus' histogram_quantile); None when the
    buckets are empty.  A value in the +Inf bucket is its lower bound."""
    count = sum(buckets)
    if not count:
        return None
    rank = q * count
    seen = 0
    for index, number in enumerate(buckets):
        if number and seen + number >= rank:
            if index == len(bounds):
                return bounds[-1]
            low = bounds[index - 1] if index else 0.0
            return low + (bounds[index] - low) * (rank - seen) / number
        seen += number
    return bounds[-1]


class MinuteFigures(persistent.Persistent):
    """task -> row of one minute, and the deepest queue seen then."""

    queue_depth = None

    def __init__(self):
        self.rows = {}

    def add(self, task, row):
        self.rows[task] = add_rows(self.rows.get(task) or empty_row(), row)
        self._p_changed = True

    def sample(self, depth):
        if depth is not None and (self.queue_depth is None
                                  or depth > self.queue_depth):
            self.queue_depth = depth


class Figures(persistent.Persistent):
    """The figures of a worker record or of a service: running totals
    per task (this object), one ``MinuteFigures`` per minute and one per
    ``SLOT`` seconds (the day's chart reads those) over the last KEEP
    seconds."""

    #: The sequence number of the last outcome these figures hold.
    flushed = 0
    conflicts = 0
    lease_expiries = 0

    def __init__(self):
        self.minutes = IOBTree()
        self.slots = IOBTree()
        self.totals = {}

    def add(self, number, task, row):
        """Add ``row`` of ``task`` in minute ``number``."""
        self.minute(number).add(task, row)
        self.slot(number * 60 // SLOT).add(task, row)
        self.totals[task] = add_rows(self.totals.get(task) or empty_row(),
                                     row)
        self._p_changed = True

    def sample(self, number, depth):
        """A sample ``depth`` of the queue in minute ``number``."""
        self.minute(number).sample(depth)
        self.slot(number * 60 // SLOT).sample(depth)

    def minute(self, number):
        return self._made(self.minutes, number, KEEP // 60)

    def slot(self, number):
        return self._made(self.slots, number, KEEP // SLOT)

    def _made(self, tree, number, kept):
        figures = tree.get(number)
        if figures is None:
            for old in list(tree.keys(max=number - kept)):
                del tree[old]
            figures = tree[number] = MinuteFigures()
        return figures

    def absorb(self, other):
        """Add the figures ``other`` to these."""
        for task, row in other.totals.items():
            self.totals[task] = add_rows(self.totals.get(task) or empty_row(),
                                         row)
        for mine, theirs in ((self.minute, other.minutes),
                             (self.slot, other.slots)):
            for number, figures in theirs.items():
                target = mine(number)
                for task, row in figures.rows.items():
                    target.add(task, row)
                target.sample(figures.queue_depth)
        self.conflicts += other.conflicts
        self.lease_expiries += other.lease_expiries
        self._p_changed = True


def outcome_row(job, now, error, cancelled):
    """The row of one run of ``job`` that ended at ``now``."""
    row = empty_row()
    if cancelled:
        row[COUNTS.index('cancelled')] = 1
    elif error is None:
        row[COUNTS.index('completed')] = 1
    elif job.status in interfaces.FINISHED or interfaces.ICronJob.providedBy(
            job):
        row[COUNTS.index('failed')] = 1
    else:
        row[COUNTS.index('retried')] = 1
    if job.started is not None:
        run = max(now - job.started, 0.0)
        row[_SUMS] = run
        row[_RUN + _bucket(RUN_BUCKETS, run)] = 1
        came = max(job.enqueued or 0.0, job.scheduledFor or 0.0)
        if came:
            latency = max(job.started - came, 0.0)
            row[_SUMS + 1] = latency
            row[_LATENCY + _bucket(LATENCY_BUCKETS, latency)] = 1
    return row
