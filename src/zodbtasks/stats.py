"""Figures: how many jobs each task finished, failed and retried, how
long they ran and waited, per minute over the last day and in total, for
the operator's views (Tasks, Workers, charts) and ``@@metrics``
(issue 12).

How they are kept:

- When a job's run ends, its transaction gets an after-commit hook that
  notes the outcome (task, outcome, run time, enqueue-to-start latency)
  in memory, in the ``Pending`` figures of its worker (this process's
  worker id and thread); an aborted run notes nothing.
- The worker writes what it noted in one of its next claim transactions
  (``flush``, at most every ``FLUSH_INTERVAL`` seconds, at once when it
  folds at the end of ``process()`` or retires) into the ``Figures`` of
  its worker record, which only it writes: one ``MinuteFigures`` object
  per minute.  Each noted outcome has a sequence number, and the figures
  remember the last one they hold, so a claim transaction that aborts
  and is tried again writes each outcome once.
- When a worker retires or is swept, its figures are merged into the
  service's own (``service._figures``), so totals never go down.
- The figures keep running totals per task, and the outcomes per minute
  and per 10-minute slot (the day's chart) for ``KEEP`` seconds.

So the figures are database-wide (all processes add theirs), lag by up to
``FLUSH_INTERVAL`` plus a claim, and a worker that dies loses the
outcomes it had not written yet (its jobs are not affected).

Design note: writing the figures in each job's own transaction was
rejected: one more object per job commit (about a tenth of its cost,
bench/bench_core.py).  A flush writes the figures (their totals), the
current minute's and the current slot's objects (a few hundred bytes
each) every couple of seconds per busy worker, and the trees' buckets
when a minute or a slot begins.  Reading the totals (``@@metrics``) loads
one object per worker record; the hour's chart 60, the day's 144.
"""
import threading
import weakref

from zodbtasks import transactions
from zodbtasks.figures import COUNTS
from zodbtasks.figures import KEEP
from zodbtasks.figures import LATENCY_BUCKETS
from zodbtasks.figures import RUN_BUCKETS
from zodbtasks.figures import SLOT
from zodbtasks.figures import Figures
from zodbtasks.figures import Minute
from zodbtasks.figures import MinuteFigures
from zodbtasks.figures import Tally
from zodbtasks.figures import add_rows
from zodbtasks.figures import empty_row
from zodbtasks.figures import outcome_row
from zodbtasks.figures import quantile
from zodbtasks.figures import runs_of

#: What the views, the metrics and ``zodbtasks top`` use (the values and
#: stored classes live in ``zodbtasks.figures``; ``Figures`` and
#: ``MinuteFigures`` keep this importable path for their pickles).
__all__ = ('COUNTS', 'KEEP', 'LATENCY_BUCKETS', 'RUN_BUCKETS', 'SLOT',
           'FLUSH_INTERVAL', 'Figures', 'Minute', 'MinuteFigures', 'Tally',
           'add_rows', 'empty_row', 'outcome_row', 'quantile',
           'job_ended', 'flush', 'retired', 'lease_expired', 'all_figures',
           'task_totals', 'service_totals', 'per_minute', 'per_slot',
           'tasks_between', 'worker_finished')

#: Seconds between a busy worker's writes of its figures.
FLUSH_INTERVAL = 2.0
#: Outcomes kept in memory at most, while the writes fail.
MAX_PENDING = 100000


def _service_figures(service):
    figures = getattr(service, '_figures', None)
    if figures is None:
        figures = service._figures = Figures()
    return figures


def all_figures(service):
    """The service's figures and its worker records' (those that have)."""
    found = [getattr(service, '_figures', None)]
    found += [getattr(record, 'figures', None)
              for record in getattr(service, '_workers', {}).values()]
    return [figures for figures in found if figures is not None]


# -- noted in memory, written by the worker ------------------------------------

class Pending:
    """Outcomes a worker noted and has not written yet."""

    def __init__(self, thread_name):
        self.events = []   # (sequence, minute, task, row)
        self.sequence = 0
        self.last_flush = None
        self.thread_name = thread_name
        self.conflicts = self._conflicts_now()

    def _conflicts_now(self):
        return sum(transactions.conflicts_of(self.thread_name).values())

    def note(self, minute, task, row):
        self.sequence += 1
        self.events.append((self.sequence, minute, task, row))
        del self.events[:-MAX_PENDING]

    def note_conflicts(self):
        now = self._conflicts_now()
        if now > self.conflicts:
            self.sequence += 1
            self.events.append((self.sequence, None, now - self.conflicts,
                                None))
            self.conflicts = now


_pending = weakref.WeakKeyDictionary()  # db -> {(oid, owner): Pending}
_lock = threading.Lock()


def _pending_of(service, owner, create):
    jar = service._p_jar
    if jar is None or service._p_oid is None:
        return None
    with _lock:
        of_db = _pending.setdefault(jar.db(), {})
        pending = of_db.get((service._p_oid, owner))
        if pending is None and create:
            pending = of_db[(service._p_oid, owner)] = Pending(
                threading.current_thread().name)
        return pending


def job_ended(service, job, now, error, cancelled=False):
    """Note the end of a run of ``job`` (its status set) once the current
    transaction commits."""
    jar = service._p_jar
    if jar is None or not job.owner:
        return
    row = outcome_row(job, now, error, cancelled)
    owner, task, minute = job.owner, job.task, int(now // 60)

    def committed(success):
        if success:
            pending = _pending_of(service, owner, create=True)
            if pending is not None:
                with _lock:
                    pending.note(minute, task, row)

    jar.transaction_manager.get().addAfterCommitHook(committed)


def flush(service, record, owner, now, queue_depth=None,
          interval=FLUSH_INTERVAL):
    """Write what worker ``owner`` noted into ``record``'s figures (the
    service's when ``record`` is None) if ``interval`` seconds passed
    since its last write, with ``queue_depth`` (a number or a function
    giving it) as a sample of the minute of ``now`` (None: no sample);
    return whether it wrote."""
    pending = _pending_of(service, owner, create=False)
    if pending is None:
        return False
    figures = getattr(record, 'figures', None) if record is not None \
        else getattr(service, '_figures', None)
    done = figures.flushed if figures is not None else 0
    with _lock:
        if not (pending.last_flush is None or now is None
                or now - pending.last_flush >= interval):
            return False  # not due: nothing read, nothing copied
        pending.note_conflicts()
        pending.events = [event for event in pending.events
                          if event[0] > done]
        events = list(pending.events)
        if events and now is not None:
            pending.last_flush = now
    if not events:
        return False
    if figures is None:
        if record is None:
            figures = _service_figures(service)
        else:
            figures = record.figures = Figures()
    for sequence, number, task, row in events:
        if number is None:
            figures.conflicts += task  # (sequence, None, how many, None)
        else:
            figures.add(number, task, row)
    if now is not None:
        figures.sample(int(now // 60), queue_depth() if callable(queue_depth)
                       else queue_depth)
    figures.flushed = events[-1][0]
    return True


def retired(service, record):
    """Merge the figures of ``record`` (a worker leaving) into the
    service's."""
    figures = getattr(record, 'figures', None)
    if figures is not None:
        _service_figures(service).absorb(figures)
        record.figures = None


def lease_expired(service, count=1):
    """Count ``count`` jobs found running under a lost worker."""
    if count:
        _service_figures(service).lease_expiries += count


# -- read ----------------------------------------------------------------------

def task_totals(service):
    """task -> Tally of everything the service's workers finished."""
    rows = {}
    for figures in all_figures(service):
        for task, row in figures.totals.items():
            add_rows(rows.setdefault(task, empty_row()), row)
    return {task: Tally(row) for task, row in rows.items()}


def service_totals(service):
    """One Tally of all tasks, with the conflict retries and the lease
    expiries."""
    total = empty_row()
    for tally in task_totals(service).values():
        add_rows(total, tally.row)
    tally = Tally(total)
    for figures in all_figures(service):
        tally.conflicts += figures.conflicts
        tally.lease_expiries += figures.lease_expiries
    return tally


def per_minute(service, since, until):
    """A ``Minute`` for each minute that starts in [since, until), oldest
    first, summed over the workers."""
    return _series(service, since, until, 60, 'minutes')


def per_slot(service, since, until):
    """A ``Minute`` (of SLOT seconds) for each slot that starts in
    [since, until), oldest first, summed over the workers."""
    return _series(service, since, until, SLOT, 'slots')


def _series(service, since, until, size, name):
    first, last = int(since // size), int((until - 1) // size)
    if since % size:
        first += 1
    rows = {number: {} for number in range(first, last + 1)}
    depths = dict.fromkeys(rows)
    for figures in all_figures(service):
        for number, minute in getattr(figures, name).items(first, last):
            target = rows[number]
            for task, row in minute.rows.items():
                add_rows(target.setdefault(task, empty_row()), row)
            depth = minute.queue_depth
            if depth is not None and (depths[number] is None
                                      or depth > depths[number]):
                depths[number] = depth
    return [Minute(number * float(size), rows[number], depths[number])
            for number in sorted(rows)]


def tasks_between(service, since, until):
    """task -> Tally of the minutes that start in [since, until)."""
    rows = {}
    for minute in per_minute(service, since, until):
        for task, tally in minute.by_task.items():
            add_rows(rows.setdefault(task, empty_row()), tally.row)
    return {task: Tally(row) for task, row in rows.items()}


def worker_finished(record, since):
    """How many jobs the worker of ``record`` finished since ``since``
    (runs that ended: completed, failed, cancelled or retried)."""
    figures = getattr(record, 'figures', None)
    if figures is None:
        return 0
    first = int(since // 60) + (1 if since % 60 else 0)
    return sum(runs_of(row) for minute in figures.minutes.values(first)
               for row in minute.rows.values())
