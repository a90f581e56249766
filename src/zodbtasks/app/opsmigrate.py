"""``zodbtasks migrate``: replace lovely.remotetask and z3c.taskqueue
services by zodbtasks TaskServices (registered in ``zodbtasks.app.ops``;
the work is ``zodbtasks.migration``'s; the procedure around it:
docs/migrating.rst)::

    zodbtasks migrate --config var/zope.conf --dry-run
    zodbtasks migrate --config var/zope.conf [--service SITE@NAME]
        [--site SITE] [--timezone Europe/Zurich] [--skip JOBID ...]
        [--batch-size 1000]

For each legacy service that ``--service`` names (default ``*@*``; or
``--site SITE`` for ``SITE@*``) it prints what it holds and what it
becomes; without ``--dry-run`` it then migrates it.  Exit status 0 when
everything was (or, in a dry run, can be) migrated, 1 when a service
cannot be (its problems are listed, nothing is written for it), 2 for
bad arguments or a database that cannot be opened.
"""
from zodbtasks import clock
from zodbtasks.app.output import print_table
from zodbtasks.app.session import OpsError
from zodbtasks.interfaces import STATUSES
from zodbtasks.migration import legacy
from zodbtasks.migration import migrate as migration
from zodbtasks.migration.legacy import MigrationError
from zodbtasks.migration.record import ROOT_KEY
from zodbtasks.migration.record import records
from zodbtasks.startup import ROOT_NAME

LEGACY_STATUSES = ('queued', 'processing', 'completed', 'error', 'cancelled',
                   'delayed', 'cronjob', 'start later')


def migrate_arguments(parser):
    parser.add_argument('--dry-run', action='store_true',
                        help='print what would change and write nothing')
    parser.add_argument('--site', default=None, metavar='SITE',
                        help="only the services of this site ('' for the "
                        'root folder): the same as --service SITE@*')
    parser.add_argument('--timezone', default=None, metavar='ZONE',
                        help='the time zone of the legacy times (they are '
                        'naive; default: this machine\'s local time)')
    parser.add_argument('--skip', type=int, action='append', default=[],
                        metavar='JOBID', help='leave this job out (it stays '
                        'in the backup of the old service); repeatable')
    parser.add_argument('--batch-size', type=int,
                        default=migration.BATCH_SIZE, metavar='N',
                        help='legacy jobs copied per transaction (default: '
                        '%(default)s)')


def migrate(session, args, out):
    """See the module docstring."""
    if not 1 <= args.batch_size <= 10000:
        raise OpsError('--batch-size: expected 1 to 10000, not %d'
                       % args.batch_size)
    directive = _directive(session.directive, args.site)
    with legacy.legacy_interfaces():
        try:
            tz = legacy.time_zone(args.timezone)
            return _migrate(session, directive, tz, args, out)
        except MigrationError as exc:
            raise OpsError(str(exc)) from exc


def _directive(directive, site):
    if site is None:
        return directive
    site_part, _, name = directive.partition('@')
    if site_part not in ('*', site):
        raise OpsError('--site %s and --service %s name different sites: '
                       'give one' % (site, directive))
    return '%s@%s' % (site, name)


def _migrate(session, directive, tz, args, out):
    connection, tm = session.connection, session.tm
    tm.abort()
    tm.begin()
    root = connection.root().get(ROOT_NAME)
    if root is None:
        raise OpsError('no root folder %r in the database' % ROOT_NAME)
    found = migration.find(root, directive)
    done = _done_records(connection, directive)
    if not found:
        if done:
            for record in done:
                _print_done(record, out)
            return 0
        if '*' not in directive:
            raise OpsError('no lovely.remotetask or z3c.taskqueue service '
                           'matches %s' % directive)
        print('No lovely.remotetask or z3c.taskqueue service matches %s: '
              'nothing to migrate.' % directive, file=out)
        return 0
    now = clock.now()
    surveys = [migration.survey(each, tz, now, frozenset(args.skip))
               for each in found]
    tm.abort()
    status = 0
    for survey in surveys:
        print_survey(survey, out)
        if survey.problems:
            status = 1
    if args.dry_run:
        print('Dry run: nothing was written.', file=out)
        return status
    for survey in surveys:
        if survey.problems:
            print('%s: not migrated (%d problem%s above)' % (
                survey.found.label, len(survey.problems),
                '' if len(survey.problems) == 1 else 's'), file=out)
            continue
        _run_one(connection, tm, survey.found, tz, args, out)
    return status


def _run_one(connection, tm, found, tz, args, out):
    def progress(record):
        print('%s: %d jobs copied (%s)' % (record.label, record.copied,
                                           record.phase), file=out)
        out.flush()
    record = migration.run(connection, tm, found, tz=tz,
                           batch_size=args.batch_size,
                           skip=frozenset(args.skip), progress=progress)
    tm.begin()
    print('%s: migrated %d jobs to a zodbtasks TaskService registered as '
          '%r; the old service is kept as root[%r][%r].legacy'
          % (record.label, record.copied, record.name, ROOT_KEY,
             record.label), file=out)
    for jobid, why in record.left_out:
        print('  left out: job %s, %s' % (jobid, why), file=out)
    for line in migration.leftovers(connection, record.site):
        print('  warning: the site still registers %s: the site manager '
              'needs that interface to import (see docs/migrating.rst)'
              % line, file=out)
    tm.abort()


def _done_records(connection, directive):
    tree = records(connection)
    if tree is None:
        return []
    site, _, name = directive.partition('@')
    return [record for record in tree.values() if record.done
            and site in ('*', record.site) and name in ('*', record.name)]


def _print_done(record, out):
    print('%s: migrated already (%s UTC, %d jobs); the old service is kept '
          'as root[%r][%r].legacy' % (
              record.label, clock.format_utc(record.finished),
              record.copied, ROOT_KEY, record.label), file=out)


def print_survey(survey, out):
    found = survey.found
    print('%s: %s.service.TaskService%s, %d jobs' % (
        found.label, survey.kind,
        ' (a broken object: %s does not import)' % survey.kind
        if survey.broken else '', survey.jobs), file=out)
    rows = [[name, survey.legacy_counts[name]] for name in LEGACY_STATUSES
            if survey.legacy_counts[name]]
    print_table(out, ['  LEGACY STATUS', 'JOBS'], [['  ' + name, count]
                for name, count in rows], '  no job to copy')
    rows = [['  ' + name, survey.counts[name]] for name in STATUSES
            if survey.counts[name]]
    if rows:
        print_table(out, ['  BECOMES', 'JOBS'], rows, '')
    for note, count in sorted(survey.notes.items()):
        print('  %d job%s %s' % (count, '' if count == 1 else 's', note),
              file=out)
    for jobid, task, status, schedule, at in survey.cron:
        print('  %s job %s %r: %s; %s' % (
            status, jobid, task, schedule,
            'next run %s UTC' % clock.format_utc(at) if at is not None
            else 'scheduled by the first processor that sees it'),
            file=out)
    for jobid, why in survey.left_out:
        print('  left out: job %s, %s' % (jobid, why), file=out)
    for problem in survey.problems:
        print('  problem: %s' % problem, file=out)
