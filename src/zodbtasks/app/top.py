"""``zodbtasks top``: a full-screen view of the job counts by task, status
and worker, refreshed like ``top`` (the successor of CMFActivity's
``watch_activities``), registered in ``zodbtasks.app.ops``.

``top [--interval 2] [--once]``
    one screen per refresh: a header per service (counts by status,
    workers alive and lost, the oldest waiting job, jobs finished and
    failed per minute over the last five minutes from
    ``zodbtasks.stats``), then a row per service, task and status with
    its count, its rate (completed, failed and cancelled rows) and the
    jobs of the task each worker runs (columns W1, W2... named below
    the table).  Keys: ``q`` quits, ``p`` pauses (and resumes) the
    refreshes, ``s`` sorts by task, by count or by status.  With
    ``--once``, or when the output is not a terminal, one screen is
    printed without curses (for scripts).

Every refresh reads afresh: ``Session.services()`` begins a new
transaction.  Reads cost the index's counts and tallies, the worker
records and the jobs they run (``zodbtasks.metrics.job_counts``), never
a scan of the jobs.

Design note: stdlib ``curses`` rather than ``rich`` (not a dependency);
``frame`` is plain lines, so that ``--once`` and the tests read the same
screen as the terminal shows.
"""
import curses
import time

from zodbtasks import clock
from zodbtasks import stats
from zodbtasks.app.output import format_age
from zodbtasks.app.output import format_table
from zodbtasks.app.session import OpsError
from zodbtasks.interfaces import CANCELLED
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import STATUSES
from zodbtasks.metrics import job_counts

#: Seconds between two refreshes.
INTERVAL = 2.0
#: Minutes over which the rates are taken.
RATE_MINUTES = 5
#: The sort orders ``s`` cycles through.
SORTS = ('task', 'count', 'status')
#: Rows with a rate: status -> the Tally field counting them.
RATES = {COMPLETED: 'completed', ERROR: 'failed', CANCELLED: 'cancelled'}
KEYS = 'q quit  p pause  s sort'


class State:
    """What the keys change: the sort order, and whether it is paused."""

    def __init__(self, interval=INTERVAL):
        self.interval, self.sort, self.paused = interval, SORTS[0], False

    def key(self, char):
        """Apply a key; False when it quits."""
        if char in ('q', 'Q'):
            return False
        if char in ('p', 'P'):
            self.paused = not self.paused
        elif char in ('s', 'S'):
            self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        return True


def frame(session, state, now=None):
    """The lines of one screen, read in a new transaction."""
    now = clock.now() if now is None else now
    header = '%s UTC  zodbtasks top, every %gs  sort:%s%s  (%s)' % (
        clock.format_utc(now), state.interval, state.sort,
        '  [PAUSED]' if state.paused else '', KEYS)
    lines, rows, workers = [header, ''], [], []
    for label, service in session.services():
        per_minute, failed = rates(service, now)
        lines.append(summary(label, service, now, per_minute['total'],
                             failed))
        own = worker_columns(label, service, now)
        rows += task_rows(label, service, per_minute, own, len(workers))
        workers += own
    width = 5 + len(workers)
    for row in rows:
        row += ['-'] * (width - len(row))
    names = ['W%d' % number for number in range(1, len(workers) + 1)]
    lines.append('')
    lines += format_table(['SERVICE', 'TASK', 'STATUS', 'COUNT', 'PER MIN']
                          + names, sorted_rows(rows, state.sort),
                          left=('SERVICE', 'TASK', 'STATUS')) \
        if rows else ['No job.']
    lines.append('')
    for name, (label, record) in zip(names, workers):
        lines.append('%s %s (%s)  %s  heartbeat %s  running %d' % (
            name, record['id'], label,
            'alive' if record['alive'] else 'LOST',
            format_age(max(now - record['heartbeat'], 0.0)),
            len(record['running'])))
    return lines


def summary(label, service, now, finished, failed):
    """The header line of a service (``finished`` and ``failed``: per
    minute)."""
    counts = service.countByStatus()
    workers = service.workers(now=now)
    alive = sum(1 for record in workers if record['alive'])
    waited = service.oldestWaiting(now=now)
    shown = '  '.join('%s:%d' % (status, counts[status])
                      for status in STATUSES if counts[status])
    return ('%s  %s  workers:%d alive, %d lost  oldest waiting:%s  '
            'per min:%.1f finished, %.1f failed' % (
                label, shown or 'no jobs', alive, len(workers) - alive,
                '-' if waited is None else '%.1fs' % waited,
                finished, failed))


def rates(service, now):
    """(status or 'total' -> finished per minute, failed per minute) over
    the last RATE_MINUTES minutes, the current one included."""
    since = (now // 60) * 60 - 60 * (RATE_MINUTES - 1)
    elapsed = max(now - since, 1.0)
    totals, by_task = {}, {}
    for minute in stats.per_minute(service, since, now):
        totals['total'] = totals.get('total', 0) + minute.total.finished
        totals['failed'] = totals.get('failed', 0) + minute.total.failed
        for task, tally in minute.by_task.items():
            mine = by_task.setdefault(task, dict.fromkeys(RATES.values(), 0))
            for field in RATES.values():
                mine[field] += getattr(tally, field)
    per_minute = {task: {field: count * 60.0 / elapsed
                         for field, count in fields.items()}
                  for task, fields in by_task.items()}
    per_minute['total'] = totals.get('total', 0) * 60.0 / elapsed
    return per_minute, totals.get('failed', 0) * 60.0 / elapsed


def worker_columns(label, service, now):
    """``[(label, worker record)]`` of the service, by id."""
    return [(label, record) for record in
            sorted(service.workers(now=now), key=lambda r: r['id'])]


def task_rows(label, service, per_minute, workers, before):
    """The rows of ``service``: SERVICE, TASK, STATUS, COUNT, PER MIN
    (from ``per_minute``: task -> Tally field -> rate), then ``before``
    dashes (other services' workers) and the jobs of the task each of
    ``workers`` runs (processing rows)."""
    running = [running_tasks(service, record) for _, record in workers]
    rows = []
    for task, counts in sorted(job_counts(service).items()):
        for status in STATUSES:
            if not counts[status]:
                continue
            rate = per_minute.get(task, {}).get(RATES.get(status))
            row = [label, task, status, counts[status],
                   '-' if rate is None else '%.1f' % rate] + ['-'] * before
            if status == PROCESSING:
                row += [tasks.get(task, 0) for tasks in running]
            rows.append(row)
    return rows


def running_tasks(service, record):
    """task -> how many of the jobs the worker of ``record`` runs."""
    found = {}
    for jobid in record['running']:
        job = service.jobs.get(jobid)
        if job is not None:
            found[job.task] = found.get(job.task, 0) + 1
    return found


def sorted_rows(rows, sort):
    if sort == 'count':
        return sorted(rows, key=lambda row: (-row[3], row[0], row[1]))
    if sort == 'status':
        return sorted(rows, key=lambda row: (STATUSES.index(row[2]),
                                             row[0], row[1]))
    return rows


# -- the terminal ------------------------------------------------------------

def top(session, args, out):
    """``zodbtasks top``: curses on a terminal, one screen otherwise."""
    if not args.interval > 0:
        raise OpsError('--interval %g: expected seconds > 0' % args.interval)
    state = State(args.interval)
    if args.once or not (hasattr(out, 'isatty') and out.isatty()):
        for line in frame(session, state):
            print(line, file=out)
        return 0
    try:
        curses.wrapper(lambda screen: run(screen, session, state))
    except KeyboardInterrupt:  # Ctrl-C: the wrapper restored the terminal
        pass
    return 0


def run(screen, session, state, monotonic=time.monotonic):
    """Draw a frame every ``state.interval`` seconds until ``q``."""
    try:
        curses.curs_set(0)
    except curses.error:
        pass
    screen.timeout(100)
    lines, due = None, 0.0
    while True:
        if lines is None or (not state.paused and monotonic() >= due):
            lines = frame(session, state)
            due = monotonic() + state.interval
            draw(screen, lines)
        code = screen.getch()
        if code == curses.KEY_RESIZE:
            draw(screen, lines)
        elif 0 <= code < 256:
            sort, paused = state.sort, state.paused
            if not state.key(chr(code)):
                return
            if (sort, paused) != (state.sort, state.paused):
                lines = frame(session, state)
                draw(screen, lines)


def draw(screen, lines):
    """Draw ``lines``, cut to the screen; a last line says how many did
    not fit."""
    height, width = screen.getmaxyx()
    if len(lines) > height > 1:
        lines = lines[:height - 1] + ['... %d more lines: enlarge the '
                                      'terminal' % (len(lines) - height + 1)]
    screen.erase()
    for number, line in enumerate(lines[:height]):
        try:
            screen.addnstr(number, 0, line, max(width - 1, 1))
        except curses.error:
            pass
    screen.refresh()


def top_arguments(parser):
    parser.add_argument('--interval', type=float, default=INTERVAL,
                        metavar='SECONDS', help='seconds between refreshes '
                        '(default: %(default)s)')
    parser.add_argument('--once', action='store_true',
                        help='print one screen without curses and stop')
