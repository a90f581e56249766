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
    queue failed or cancelled jobs again / cancel waiting jobs;
``watch [--interval 3] [--count N]``
    counts per service and status, refreshed every few seconds.

It opens the database of zope.conf's first ``<zodb>`` section directly
(ZConfig and ZODB.config), without loading the application's ZCML: jobs,
services and folders unpickle from their classes alone.  An embedded
FileStorage is locked by a running server or worker; the command is meant
for ZEO deployments (a ``<zeoclient>`` section) and says so when the
FileStorage is locked.  Changes commit in transactions of their own,
retried on conflicts.
"""
import argparse
import datetime
import os
import sys
import time

import transaction
import zc.lockfile
from zope.component.interfaces import ISite

from zodbtasks import clock
from zodbtasks import startup
from zodbtasks.app import worker
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import FINISHED
from zodbtasks.interfaces import ITaskService
from zodbtasks.interfaces import STATUSES

try:
    from ZEO.Exceptions import ClientDisconnected
except ImportError:  # no ZEO: FileStorage only
    class ClientDisconnected(Exception):
        pass

#: Transactions tried per change before giving up on conflicts.
ATTEMPTS = 5
#: Clear the screen and go home (ANSI), before each refresh on a terminal.
CLEAR = '\x1b[H\x1b[2J'


class OpsError(Exception):
    """The command cannot go on; the message says why."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='zodbtasks',
        description='Look at and manage the task services of an instance '
        'while its processes run (over ZEO).')
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        '--config', default=os.path.join('var', 'zope.conf'),
        help="the instance's zope.conf (default: %(default)s)")
    common.add_argument(
        '--service', default='*@*', metavar='SITE@NAME',
        help='the task services: SITE@NAME, @NAME (the root folder), '
        'SITE@*, *@NAME or *@* (default: %(default)s)')
    commands = parser.add_subparsers(dest='command', required=True,
                                     metavar='COMMAND')
    commands.add_parser(
        'workers', parents=[common],
        help='workers alive or dead, their last heartbeat and jobs')
    commands.add_parser(
        'stuck', parents=[common],
        help='jobs whose worker died (processing, lease expired)')
    failed = commands.add_parser(
        'failed', parents=[common],
        help='jobs in error, newest first, with their message')
    failed.add_argument('--limit', type=int, default=20, metavar='N',
                        help='at most N jobs (default: %(default)s)')
    for name, text in (('requeue', 'queue failed or cancelled jobs again'),
                       ('cancel', 'cancel jobs that wait')):
        command = commands.add_parser(name, parents=[common], help=text)
        command.add_argument('jobids', nargs='+', type=int, metavar='JOBID')
    watch = commands.add_parser(
        'watch', parents=[common],
        help='counts per service and status, refreshed')
    watch.add_argument('--interval', type=float, default=3.0,
                       metavar='SECONDS',
                       help='seconds between refreshes (default: '
                       '%(default)s)')
    watch.add_argument('--count', type=int, default=None, metavar='N',
                       help='stop after N refreshes (default: never)')
    return parser.parse_args(argv)


# -- the database and the services --------------------------------------------

def open_database(config):
    """The main database of the zope.conf ``config``, opened without the
    application's ZCML; OpsError when it cannot be opened."""
    try:
        options = worker.read_config(config)
    except worker.ConfigError as exc:
        raise OpsError(str(exc)) from exc
    if not options.databases:
        raise OpsError('%s has no <zodb> section' % config)
    factory = options.databases[0]
    try:
        return factory.open()
    except zc.lockfile.LockError as exc:
        raise OpsError(
            'the FileStorage of %s is locked (%s): a zodbtasks-server or '
            'zodbtasks-worker has it open.  This command works next to '
            'running processes only over ZEO (a <zeoclient> section in '
            'zope.conf: see docs/deployment.rst); on an embedded '
            'FileStorage, stop the server first.' % (config, exc)) from exc
    except ClientDisconnected as exc:
        raise OpsError('cannot reach the ZEO server of %s: %s'
                       % (config, exc)) from exc


def find_services(root, directive):
    """``[(label, service)]``: the task services ``directive`` (as
    autostart's) names under root folder ``root``; labels are
    ``SITE@NAME`` (``@NAME`` for the root folder's)."""
    site_name, _, service_name = directive.partition('@')
    if site_name in ('', '*'):
        sites = [('', root)] if site_name == '' else [('', root)] + [
            (name, obj) for name, obj in root.items()
            if ISite.providedBy(obj)]
    else:
        site = root.get(site_name)
        if site is None or not ISite.providedBy(site):
            raise OpsError('no site %r below the root folder' % site_name)
        sites = [(site_name, site)]
    found = []
    for label, site in sites:
        for registration in site.getSiteManager().registeredUtilities():
            if registration.provided is ITaskService \
                    and service_name in ('*', registration.name):
                found.append(('%s@%s' % (label, registration.name),
                              registration.component))
    return found


class Session:
    """A connection with its own transaction manager, and the services
    that ``--service`` names (found again at each ``refresh``)."""

    def __init__(self, db, directive):
        try:
            [self.directive] = startup.parse_autostart(directive)
        except ValueError as exc:
            raise OpsError('--service %s: expected SITE@NAME, @NAME, '
                           'SITE@*, *@NAME or *@*' % directive) from exc
        self.db = db
        self.tm = transaction.TransactionManager()
        self.connection = db.open(transaction_manager=self.tm)

    def close(self):
        self.tm.abort()
        self.connection.close()

    def services(self):
        """``[(label, service)]`` as of a new transaction."""
        self.tm.abort()
        self.tm.begin()
        root = self.connection.root().get(startup.ROOT_NAME)
        if root is None:
            raise OpsError('no root folder %r in the database'
                           % startup.ROOT_NAME)
        found = find_services(root, self.directive)
        if not found:
            raise OpsError('no task service matches %s' % self.directive)
        return found

    def change(self, step):
        """Run ``step(services)`` in a transaction of its own, again on
        conflicts; return its result once committed."""
        for attempt in self.tm.attempts(ATTEMPTS):
            with attempt:
                result = step(self.services())
        return result


# -- output ------------------------------------------------------------------

def format_table(headers, rows, left=()):
    """The lines of a plain table, columns aligned: numbers right, except
    in the columns named in ``left``."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in rows])
              for i, header in enumerate(headers)]
    numeric = [header not in left and bool(rows)
               and all(_is_number(row[i]) for row in rows)
               for i, header in enumerate(headers)]

    def line(cells):
        return '  '.join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric)).rstrip()
    return [line(headers)] + [line(row) for row in rows]


def _is_number(text):
    return text.replace('.', '', 1).replace(',', '').isdigit() or text == '-'


def format_time(epoch):
    if epoch is None:
        return '-'
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S')


def format_age(seconds):
    if seconds < 120:
        return '%.1fs ago' % seconds
    if seconds < 7200:
        return '%dm ago' % (seconds // 60)
    return '%dh ago' % (seconds // 3600)


def first_line(text):
    return (text or '').strip().splitlines()[0] if text else ''


# -- the sub-commands ---------------------------------------------------------

def show_workers(session, args, out):
    now = clock.now()
    rows = []
    for label, service in session.services():
        for record in sorted(service.workers(now=now),
                             key=lambda record: record['id']):
            rows.append([
                label, record['id'], 'alive' if record['alive'] else 'dead',
                '%s (%s)' % (format_time(record['heartbeat']),
                             format_age(now - record['heartbeat'])),
                ', '.join(str(jobid) for jobid in record['running']) or '-'])
    if not rows:
        print('No worker has claimed jobs of %s.' % session.directive,
              file=out)
        return 0
    for line in format_table(['SERVICE', 'WORKER', 'STATE',
                              'LAST HEARTBEAT (UTC)', 'RUNNING'], rows,
                             left=('RUNNING',)):
        print(line, file=out)
    return 0


def show_stuck(session, args, out):
    now = clock.now()
    rows = []
    for label, service in session.services():
        for job in sorted(service.stuckJobs(now=now),
                          key=lambda job: job.id):
            rows.append([label, job.id, job.task, job.owner, job.attempts,
                         format_time(job.started)])
    if not rows:
        print('No stuck job in %s.' % session.directive, file=out)
        return 0
    for line in format_table(['SERVICE', 'JOB', 'TASK', 'WORKER (dead)',
                              'ATTEMPTS', 'STARTED (UTC)'], rows):
        print(line, file=out)
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
    rows = [[label, job.id, job.task, format_time(job.completed),
             job.attempts, first_line(job.error)]
            for label, job in jobs[:args.limit]]
    if not rows:
        print('No failed job in %s.' % session.directive, file=out)
        return 0
    for line in format_table(['SERVICE', 'JOB', 'TASK', 'FAILED (UTC)',
                              'ATTEMPTS', 'ERROR'], rows):
        print(line, file=out)
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
        elif changed:
            print('%s %s (%s)' % (done, jobid, label), file=out)
        else:
            status = 1
            print('%s %s (%s): it is %s' % (refused, jobid, label, detail),
                  file=out)
    return status


def watch(session, args, out, sleep=time.sleep):
    """Print the counts every ``--interval`` seconds (``--count`` times)."""
    clear = out.isatty() if hasattr(out, 'isatty') else False
    previous, refreshes = None, 0
    try:
        while True:
            lines, previous = watch_screen(session, args.interval, previous)
            if clear:
                out.write(CLEAR)
            for line in lines:
                print(line, file=out)
            out.flush()
            refreshes += 1
            if args.count is not None and refreshes >= args.count:
                return 0
            sleep(args.interval)
    except KeyboardInterrupt:
        return 0


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
    header = '%s UTC, every %gs (Ctrl-C to stop)' % (format_time(now),
                                                     interval)
    table = format_table(['SERVICE'] + [status.upper() for status in STATUSES]
                         + ['WORKERS', 'FINISHED/S'], rows)
    return [header, ''] + table + [''], current


COMMANDS = {
    'workers': show_workers,
    'stuck': show_stuck,
    'failed': show_failed,
    'requeue': requeue,
    'cancel': cancel,
    'watch': watch,
}


def main(argv=None, out=None):
    out = sys.stdout if out is None else out
    args = parse_args(argv)
    db = session = None
    try:
        db = open_database(args.config)
        session = Session(db, args.service)
        return COMMANDS[args.command](session, args, out)
    except OpsError as exc:
        print('zodbtasks: %s' % exc, file=sys.stderr)
        return 2
    finally:
        if session is not None:
            session.close()
        if db is not None:
            db.close()


if __name__ == '__main__':
    sys.exit(main())
