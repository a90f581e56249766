"""The sub-commands of ``zodbtasks`` about activities: why a job waits,
pausing and resuming, task limits, and the table of job counts by task,
status, priority and worker (registered in ``zodbtasks.app.ops``).

``why JOBID``
    the job's wait reason and the chain of jobs behind it;
``pause [TASK]`` / ``resume [TASK]``
    stop claiming jobs of the services (or of one task), and start again;
``limit TASK [--max-running N|none] [--per-minute N|none]``
    change a task's limits (an option not given keeps its limit);
``activities [--interval 2] [--count N] [--once]``
    the paused state, the limits and the job counts of each service,
    refreshed like ``watch``.

Design note: this command does not load the application's ZCML (see
``zodbtasks.app.ops``): in its process no task is registered.  Loading
the instance's site.zcml was tried and rejected: its global
registrations cannot be made twice in one process (the principals of
principals.zcml), and it makes the command depend on every package the
application configures.  So it names the tasks a service knows from its
database (``task_names``: the tasks of its jobs, and those paused or
limited already), which ``pause``, ``resume`` and ``setTaskLimit``
accept without the registry (``ITaskService.knownTasks``);
``tests/zeo/test_ops_activities.py`` runs the command in a process of
its own, where no task is registered.
"""
import time

from zodbtasks import clock
from zodbtasks import options
from zodbtasks.app.output import format_table
from zodbtasks.app.output import print_table
from zodbtasks.app.output import refresh
from zodbtasks.app.session import OpsError

#: Seconds between two refreshes of ``activities``.
ACTIVITIES_INTERVAL = 2.0
#: The columns of the limits table (after SERVICE in ``limit``).
LIMIT_HEADERS = ['TASK', 'MAX RUNNING', 'PER MINUTE', 'RUNNING',
                 'STARTED LAST MINUTE', 'HELD']
ACTIVITY_HEADERS = ['SERVICE', 'TASK', 'STATUS', 'PRIORITY', 'WORKER',
                    'COUNT']
#: ``limit``: an option not given keeps the task's limit.
KEEP = object()


# -- why ---------------------------------------------------------------------

def why(session, args, out):
    """Print the wait reason of the job and of the jobs behind it."""
    holders = [(label, service) for label, service in session.services()
               if args.jobid in service.jobs]
    if not holders:
        raise OpsError('no job %d in %s' % (args.jobid, session.directive))
    if len(holders) > 1:
        raise OpsError('job %d is in %d services (%s): say which with '
                       '--service' % (args.jobid, len(holders), ', '.join(
                           label for label, _ in holders)))
    [(_, service)] = holders
    chain = service.getWaitChain(args.jobid, now=clock.now())
    for depth, (jobid, task, status, reason) in enumerate(chain):
        job = '%sjob %d (%s, %s)' % ('  ' * depth, jobid, task, status)
        print('%s does not wait' % job if reason is None
              else '%s: %s' % (job, reason), file=out)
    return 0


def why_arguments(parser):
    parser.add_argument('jobid', type=int, metavar='JOBID')


# -- pause and resume ----------------------------------------------------------

def pause(session, args, out):
    return _pause_or_resume(session, args.task, True, out)


def resume(session, args, out):
    return _pause_or_resume(session, args.task, False, out)


def _pause_or_resume(session, task, paused, out):
    """Pause or resume the services (``task`` None) or ``task`` in those
    that know it, in one transaction; print what was done."""
    done = 'paused' if paused else 'resumed'

    def step(services):
        lines = []
        for label, service in _check_task(services, task):
            if service is None:
                lines.append(_left_alone(task, label, done))
                continue
            what = label if task is None else 'task %r in %s' % (task,
                                                                 label)
            if service.isPaused(task) == paused:
                lines.append('%s: %s' % (what, 'paused already' if paused
                                         else 'was not paused'))
                continue
            (service.pause if paused else service.resume)(task)
            still = service.pausedTasks() \
                if task is None and not paused else []
            lines.append('%s %s%s' % (done, what, ' (tasks still paused: '
                                      '%s)' % ', '.join(still) if still
                                      else ''))
        return lines

    for line in session.change(step):
        print(line, file=out)
    return 0


def task_arguments(parser):
    parser.add_argument('task', nargs='?', default=None, metavar='TASK',
                        help='one task of the services (default: the '
                        'whole services)')


# -- limit -------------------------------------------------------------------

def limit(session, args, out):
    """Change the limits of ``args.task``; print the resulting limits."""
    max_running = parse_limit(args.max_running, '--max-running')
    per_minute = parse_limit(args.per_minute, '--per-minute')
    if max_running is KEEP and per_minute is KEEP:
        raise OpsError('limit: give --max-running or --per-minute (a whole '
                       'number >= 0, or none to remove that limit)')

    def step(services):
        labels, lines = [], []
        for label, service in _check_task(services, args.task):
            if service is None:
                lines.append(_left_alone(args.task, label, 'limited'))
                continue
            labels.append(label)
            current = service.getTaskLimits().get(args.task, {})
            service.setTaskLimit(
                args.task,
                current.get('maxRunning') if max_running is KEEP
                else max_running,
                current.get('perMinute') if per_minute is KEEP
                else per_minute)
        return labels, lines

    labels, lines = session.change(step)
    for line in lines:
        print(line, file=out)
    now, rows = clock.now(), []
    for label, service in session.services():
        if label not in labels:
            continue
        found = limit_rows(service, now, [args.task])
        if found:
            rows.extend([label] + row for row in found)
        else:
            print('%s: task %r has no limits' % (label, args.task), file=out)
    if rows:
        print_table(out, ['SERVICE'] + LIMIT_HEADERS, rows, '')
    return 0


def parse_limit(text, option):
    """KEEP (not given), None (``none``: no limit) or a whole number >= 0;
    OpsError otherwise."""
    if text is None:
        return KEEP
    if text.strip().lower() == 'none':
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise OpsError('%s: expected a whole number >= 0, or none to remove '
                       'the limit, not %r' % (option, text))
    return options.limit(value, option)


def limit_arguments(parser):
    parser.add_argument('task', metavar='TASK')
    parser.add_argument('--max-running', metavar='N|none', default=None,
                        help='at most N jobs of the task run at once, in '
                        'all processes (none: no limit)')
    parser.add_argument('--per-minute', metavar='N|none', default=None,
                        help='at most N jobs of the task start in any '
                        'minute (none: no limit)')


def limit_rows(service, now, tasks=None):
    """The rows of LIMIT_HEADERS for the limited tasks of ``service`` (only
    those of ``tasks`` unless None)."""
    return [[task, _shown(values['maxRunning']),
             _shown(values['perMinute']), values['running'],
             values['startedLastMinute'], values['held']]
            for task, values in service.getTaskLimits(now=now).items()
            if tasks is None or task in tasks]


# -- activities ----------------------------------------------------------------

def activities(session, args, out, sleep=time.sleep):
    """Print the activity tables every ``--interval`` seconds
    (``--count`` times, once with ``--once``)."""
    count = 1 if args.once else args.count
    return refresh(out, lambda: activities_screen(
        session, None if count == 1 else args.interval), args.interval,
        count, sleep)


def activities_screen(session, interval=None):
    """The lines of one refresh: for each service, its paused state, its
    limits and its job counts by task, status, priority and worker
    (``interval`` None: a screen that is not refreshed)."""
    now = clock.now()
    lines = ['%s UTC%s' % (clock.format_utc(now), '' if interval is None
                           else ', every %gs (Ctrl-C to stop)' % interval),
             '']
    for label, service in session.services():
        paused = service.pausedTasks()
        lines.append('%s: %s; %s' % (
            label, 'PAUSED (no job is claimed)' if service.isPaused()
            else 'not paused', 'paused tasks: ' + ', '.join(paused)
            if paused else 'no task paused'))
        limits = limit_rows(service, now)
        lines += format_table(LIMIT_HEADERS, limits) if limits \
            else ['no task limits']
        rows = [[label, row['task'], row['status'], _shown(row['priority']),
                 _shown(row['worker']), row['count']]
                for row in service.countActivities()]
        lines.append('')
        lines += format_table(ACTIVITY_HEADERS, rows, left=('WORKER',)) \
            if rows else ['No job in %s but completed ones.' % label]
        lines.append('')
    return lines


def activities_arguments(parser):
    parser.add_argument('--interval', type=float,
                        default=ACTIVITIES_INTERVAL, metavar='SECONDS',
                        help='seconds between refreshes (default: '
                        '%(default)s)')
    parser.add_argument('--count', type=int, default=None, metavar='N',
                        help='stop after N refreshes (default: never)')
    parser.add_argument('--once', action='store_true',
                        help='print the tables once and stop')


# -- helpers -------------------------------------------------------------------

def task_names(service):
    """The tasks ``service`` knows without the application: those of its
    jobs and those paused or limited."""
    return set(service.countByTask()) | set(service.pausedTasks()) \
        | set(service.getTaskLimits())


def _check_task(services, task):
    """``services`` with None for the service of those that do not know
    ``task`` (all know None); OpsError when none knows it."""
    if task is None:
        return services
    checked = [(label, service if task in task_names(service) else None)
               for label, service in services]
    if all(service is None for _, service in checked):
        raise OpsError(
            'no task %r in %s: no job of it, and it is not paused or '
            'limited (this command knows the tasks by their jobs)'
            % (task, ', '.join(label for label, _ in services)))
    return checked


def _left_alone(task, label, done):
    return 'task %r in %s: no job of it, not %s' % (task, label, done)


def _shown(value):
    return '-' if value is None else value
