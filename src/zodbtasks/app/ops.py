"""``zodbtasks``: the operator's command for the task services of an
instance, next to its running web and worker processes.

Sub-commands (all take ``--config``, the instance's zope.conf, and
``--service``, which services to look at: ``SITE@NAME`` as in autostart,
default ``*@*``, every task service of the root folder and its sites):

``workers``
    the workers that claimed jobs: alive or dead, last heartbeat, the jobs
    they run;
``stuck``
    jobs whose worker died (processing, lease expired): a live worker's
    sweeper retries them, or marks them error;
``failed``
    jobs in error, newest first, with their error message;
``requeue JOBID...`` / ``cancel JOBID...``
    queue failed or cancelled jobs again / cancel waiting jobs, and ask
    running ones to stop (at their next checkpoint);
``watch [--interval 3] [--count N]``
    counts per service and status, refreshed every few seconds;
``reindex [--fix] [--show N]``
    check the indexes (status sets, counts, time indexes, queue, schedule,
    worker records) against the jobs; ``--fix`` rebuilds them;
``why JOBID``, ``pause [TASK]``, ``resume [TASK]``, ``limit TASK``,
``activities [--interval 2] [--count N] [--once]``
    why a job waits, pausing, task limits and the job counts by task,
    status, priority and worker (see ``zodbtasks.app.opsactivities``);
``groups [--limit 20]``, ``clean-group GID``
    the groups, newest first, with their progress and callback, and
    cleaning a finished one (see ``zodbtasks.app.opsgroups``);
``metrics [--format openmetrics|prometheus] [--output FILE]``,
``top [--interval 2] [--once]``
    the metrics of ``@@metrics``, and a full-screen view of the counts by
    task, status and worker (see ``zodbtasks.app.opsmetrics``,
    ``zodbtasks.app.top``);
``migrate [--dry-run]``
    replace lovely.remotetask and z3c.taskqueue services by zodbtasks
    ones (see ``zodbtasks.app.opsmigrate`` and docs/migrating.rst).

It opens the databases of zope.conf's ``<zodb>`` sections directly (ZConfig
and ZODB.config; the first is the main one, the others may hold task
services), without loading the application's ZCML: jobs,
services and folders unpickle from their classes alone.  An embedded
FileStorage is locked by a running server or worker; the command is meant
for ZEO deployments (a ``<zeoclient>`` section) and says so when the
FileStorage is locked.  Changes commit in transactions of their own,
retried on conflicts.
"""
import argparse
import os
import sys
import time

from zodbtasks import clock
from zodbtasks.app import opsactivities
from zodbtasks.app import opsgroups
from zodbtasks.app import opsmetrics
from zodbtasks.app import opsmigrate
from zodbtasks.app import top
from zodbtasks.app.output import first_line
from zodbtasks.app.output import format_age
from zodbtasks.app.output import format_table
from zodbtasks.app.output import print_table
from zodbtasks.app.output import refresh
from zodbtasks.app.session import OpsError
from zodbtasks.app.session import Session
from zodbtasks.app.session import close_databases
from zodbtasks.app.session import open_database
from zodbtasks.app.session import parse_directive
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import STATUSES
from zodbtasks.transactions import own_connection

DEFAULT_CONFIG = os.path.join('var', 'zope.conf')
DEFAULT_SERVICE = '*@*'


def parse_args(argv=None):
    """The arguments of ``zodbtasks``: ``--config`` and ``--service`` may
    come before the sub-command or after it (after wins)."""
    parser = argparse.ArgumentParser(
        prog='zodbtasks',
        description='Look at and manage the task services of an instance '
        'while its processes run (over ZEO).')
    add_common_arguments(parser, DEFAULT_CONFIG, DEFAULT_SERVICE)
    # The sub-commands' copies have no default, so that they keep what
    # was given before the sub-command.
    common = argparse.ArgumentParser(add_help=False)
    add_common_arguments(common, argparse.SUPPRESS, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest='command', required=True,
                                     metavar='COMMAND')
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, parents=[common], help=command.help,
                                  description=command.help)
        if command.arguments is not None:
            command.arguments(sub)
    return parser.parse_args(argv)


def add_common_arguments(parser, config, service):
    parser.add_argument(
        '--config', default=config,
        help="the instance's zope.conf (default: %s)" % DEFAULT_CONFIG)
    parser.add_argument(
        '--service', default=service, metavar='SITE@NAME',
        help='the task services: SITE@NAME, @NAME (the root folder), '
        'SITE@*, *@NAME or *@* (default: %s)' % DEFAULT_SERVICE)


# -- the sub-commands ---------------------------------------------------------

def show_workers(session, args, out):
    now = clock.now()
    rows = []
    for label, service in session.services():
        for record in sorted(service.workers(now=now),
                             key=lambda record: record['id']):
            rows.append([
                label, record['id'], 'alive' if record['alive'] else 'dead',
                '%s (%s)' % (clock.format_utc(record['heartbeat']),
                             format_age(now - record['heartbeat'])),
                ', '.join(str(jobid) for jobid in record['running']) or '-'])
    print_table(out, ['SERVICE', 'WORKER', 'STATE', 'LAST HEARTBEAT (UTC)',
                      'RUNNING'], rows, 'No worker has claimed jobs of %s.'
                % session.directive, left=('RUNNING',))
    return 0


def show_stuck(session, args, out):
    now = clock.now()
    rows = []
    for label, service in session.services():
        for job in sorted(service.stuckJobs(now=now),
                          key=lambda job: job.id):
            rows.append([label, job.id, job.task, job.owner, job.attempts,
                         clock.format_utc(job.started, missing='-')])
    over = [[label, job.id, job.task, job.owner,
             clock.format_utc(job.started, missing='-'),
             '%g s' % (job.timeLimit or 0)]
            for label, service in session.services()
            for job in service.overTimeLimit(now=now)]
    if over:
        print_table(out, ['SERVICE', 'JOB', 'TASK', 'WORKER',
                          'STARTED (UTC)', 'TIME LIMIT'], over, '')
        print('%d job%s over %s time limit: a task that never reaches a '
              'checkpoint is stopped only by stopping its worker (its lease '
              'then gives the job back).' % (
                  len(over), '' if len(over) == 1 else 's',
                  'its' if len(over) == 1 else 'their'), file=out)
    if not print_table(out, ['SERVICE', 'JOB', 'TASK', 'WORKER (dead)',
                             'ATTEMPTS', 'STARTED (UTC)'], rows,
                       'No stuck job in %s.' % session.directive):
        return 0
    print('%d stuck job%s: the sweeper of a live worker retries them or '
          'marks them error.' % (len(rows), '' if len(rows) == 1 else 's'),
          file=out)
    return 0


def show_failed(session, args, out):
    jobs = []
    for label, service in session.services():
        _, page = service.queryJobs(status=ERROR, sortOn='completed',
                                    reverse=True, size=args.limit)
        jobs.extend((label, job) for job in page)
    jobs.sort(key=lambda item: (item[1].completed or 0, item[1].id),
              reverse=True)
    rows = [[label, job.id, job.task,
             clock.format_utc(job.completed, missing='-'), job.attempts,
             first_line(job.error)]
            for label, job in jobs[:args.limit]]
    print_table(out, ['SERVICE', 'JOB', 'TASK', 'FAILED (UTC)', 'ATTEMPTS',
                      'ERROR'], rows, 'No failed job in %s.'
                % session.directive)
    return 0


def requeue(session, args, out):
    return _change_jobs(session, args.jobids, 'retry', 'requeued',
                        'not requeued', out)


def cancel(session, args, out):
    return _change_jobs(session, args.jobids, 'cancel', 'cancelled',
                        'not cancelled', out)


def _change_jobs(session, jobids, method, done, refused, out):
    """Call ``service.<method>(jobid)`` for each job in one transaction;
    print what became of each; 1 when one was not changed."""
    def step(services):
        outcome = []
        for jobid in jobids:
            holders = [(label, service) for label, service in services
                       if jobid in service.jobs]
            if len(holders) != 1:
                outcome.append((jobid, None, None, len(holders)))
                continue
            label, service = holders[0]
            changed = getattr(service, method)(jobid)
            outcome.append((jobid, label, changed,
                            service.jobs[jobid].status))
        return outcome

    status = 0
    for jobid, label, changed, detail in session.change(step):
        if label is None:
            status = 1
            print('%s: %s' % (jobid, 'no such job' if detail == 0 else
                              'in %d services: say which with --service'
                              % detail), file=out)
        elif changed and detail == 'processing':
            print('asked %s (%s) to stop: it is running, and ends %s at '
                  'its next checkpoint' % (jobid, label, done), file=out)
        elif changed:
            print('%s %s (%s)' % (done, jobid, label), file=out)
        else:
            status = 1
            print('%s %s (%s): it is %s' % (refused, jobid, label, detail),
                  file=out)
    return status


def reindex(session, args, out):
    """Check each service's indexes against its jobs; with ``--fix``,
    rebuild what disagrees.  1 when problems remain."""
    status = 0
    for label, service in session.services():
        problems = service.checkIndex()
        if not problems:
            print('%s: the indexes agree with the %d jobs'
                  % (label, len(service.jobs)), file=out)
            continue
        print('%s: %d problems' % (label, len(problems)), file=out)
        for problem in problems[:args.show]:
            print('  ' + problem, file=out)
        if len(problems) > args.show:
            print('  ... and %d more' % (len(problems) - args.show),
                  file=out)
        if not args.fix:
            status = 1
            print('%s: run again with --fix to rebuild the indexes'
                  % label, file=out)
            continue
        repaired = service.rebuildIndex()
        left = service.checkIndex()
        print('%s: repaired %d problems, %d left'
              % (label, len(repaired), len(left)), file=out)
        status = status or (1 if left else 0)
    return status


def reindex_arguments(parser):
    parser.add_argument('--fix', action='store_true',
                        help='rebuild the indexes from the jobs, in '
                        'transactions of 1,000 jobs (safe while processors '
                        'run)')
    parser.add_argument('--show', type=int, default=20, metavar='N',
                        help='list at most N problems (default: '
                        '%(default)s)')


def watch(session, args, out, sleep=time.sleep):
    """Print the counts every ``--interval`` seconds (``--count`` times)."""
    previous = {}

    def screen():
        lines, previous['finished'] = watch_screen(
            session, args.interval, previous.get('finished'))
        return lines
    return refresh(out, screen, args.interval, args.count, sleep)


def watch_screen(session, interval, previous=None):
    """The lines of one refresh, and what the next one compares with:
    ``{label: (monotonic time, finished count)}``."""
    now, moment = clock.now(), time.monotonic()
    rows, current = [], {}
    for label, service in session.services():
        counts = service.countByStatus()
        finished = sum(counts.get(status, 0) for status in FINISHED)
        current[label] = (moment, finished)
        rate = '-'
        if previous and label in previous:
            then, before = previous[label]
            if moment > then:
                rate = '%.1f' % ((finished - before) / (moment - then))
        workers = service.workers(now=now)
        alive = sum(1 for record in workers if record['alive'])
        rows.append([label] + [counts.get(status, 0) for status in STATUSES]
                    + ['%d/%d' % (alive, len(workers)), rate])
    header = '%s UTC, every %gs (Ctrl-C to stop)' % (clock.format_utc(now),
                                                     interval)
    table = format_table(['SERVICE'] + [status.upper() for status in STATUSES]
                         + ['WORKERS', 'FINISHED/S'], rows)
    return [header, ''] + table + [''], current


# -- the sub-command table ---------------------------------------------------

class Command:
    """A sub-command: ``run(session, args, out)`` returns the exit status;
    ``arguments(parser)`` adds its own arguments (None: none)."""

    def __init__(self, run, help, arguments=None):
        self.run, self.help, self.arguments = run, help, arguments


def limit_argument(parser):
    parser.add_argument('--limit', type=int, default=20, metavar='N',
                        help='at most N jobs (default: %(default)s)')


def jobids_argument(parser):
    parser.add_argument('jobids', nargs='+', type=int, metavar='JOBID')


def watch_arguments(parser):
    parser.add_argument('--interval', type=float, default=3.0,
                        metavar='SECONDS', help='seconds between refreshes '
                        '(default: %(default)s)')
    parser.add_argument('--count', type=int, default=None, metavar='N',
                        help='stop after N refreshes (default: never)')


COMMANDS = {
    'workers': Command(
        show_workers, 'workers alive or dead, their last heartbeat and '
        'jobs'),
    'stuck': Command(
        show_stuck, 'jobs whose worker died (processing, lease expired)'),
    'failed': Command(
        show_failed, 'jobs in error, newest first, with their message',
        limit_argument),
    'requeue': Command(
        requeue, 'queue failed or cancelled jobs again', jobids_argument),
    'cancel': Command(cancel, 'cancel jobs that wait, ask running ones to '
                      'stop', jobids_argument),
    'watch': Command(
        watch, 'counts per service and status, refreshed', watch_arguments),
    'reindex': Command(
        reindex, 'check the indexes against the jobs; --fix rebuilds them',
        reindex_arguments),
    'why': Command(
        opsactivities.why, "why a job waits, and the jobs behind it",
        opsactivities.why_arguments),
    'pause': Command(
        opsactivities.pause, 'stop claiming jobs of the services, or of '
        'one task (running jobs finish)', opsactivities.task_arguments),
    'resume': Command(
        opsactivities.resume, 'claim again what pause stopped',
        opsactivities.task_arguments),
    'limit': Command(
        opsactivities.limit, "change a task's limits (jobs running at "
        'once, started per minute)', opsactivities.limit_arguments),
    'activities': Command(
        opsactivities.activities, 'paused state, limits and job counts by '
        'task, status, priority and worker, refreshed',
        opsactivities.activities_arguments),
    'groups': Command(
        opsgroups.show_groups, 'groups, newest first: status, finished and '
        'failed members, callback', opsgroups.groups_arguments),
    'clean-group': Command(
        opsgroups.clean_group, "remove a finished group's members and "
        'callback, then the group', opsgroups.clean_group_arguments),
    'metrics': Command(
        opsmetrics.metrics, 'the metrics of @@metrics (OpenMetrics or the '
        'Prometheus text format), printed or written to a file',
        opsmetrics.metrics_arguments),
    'top': Command(
        top.top, 'full-screen job counts by task, status and worker, '
        'refreshed (q quits, p pauses, s sorts)', top.top_arguments),
    'migrate': Command(
        opsmigrate.migrate, 'replace lovely.remotetask and z3c.taskqueue '
        'services by zodbtasks ones (--dry-run: show what would change)',
        opsmigrate.migrate_arguments),
}


def main(argv=None, out=None):
    out = sys.stdout if out is None else out
    args = parse_args(argv)
    try:
        directive = parse_directive(args.service)
        db = open_database(args.config)
        try:
            with own_connection(db) as (connection, tm):
                session = Session(connection, tm, directive)
                return COMMANDS[args.command].run(session, args, out)
        finally:
            close_databases(db)
    except OpsError as exc:
        print('zodbtasks: %s' % exc, file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
