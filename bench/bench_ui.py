"""Server time of every Jobs-tab view and of the Overview with a million
jobs (issue 10, part 5).  A report, not a test.

Builds a real instance (zodbtasks.app: site.zcml, ZMI, security) and
fills its demo service with N jobs (default 1,000,000) through the public
API, in the order a week of work would have made them (``now=`` runs
from seven days ago to now):

- five grouping tasks (``SimpleTask(func, groupSize=1000)``: mail 40%,
  thumbnail 25%, report 15%, sync 15%, cleanup 5%); jobs are added
  1,000 per transaction, then run by ``runner.drain`` in groups, so the
  fill takes minutes;
- about 7% of the runs fail (``error``), 3% of the jobs are cancelled
  while they wait, priorities 0 (90%), 5 (7%) and -5 (3%); tags: a
  quarter carry ``customer-<0..49>``, 2% ``urgent``, a tenth
  ``batch-<n>`` (one tag per 2,000 jobs);
- the jobs added in the last half hour (7%, a burst) have not run:
  ``queued``, ``blocked`` (``after=`` a queued job), ``delayed``
  (``at=`` in the next days), ``startlater``, 50 ``processing``
  (claimed by a worker that never ran them) and 20 cron jobs.

Then it renders each view through WebTest with cold caches
(``db.cacheMinimize()`` before each request) and reports the median
server time of ``--repeat`` renders and the objects read from the
storage: the first and the last page, sorted by each column in both
orders, filtered by each status, by task and status, by tag, the
Overview, and the searches of issue 12 (id, created and finished
ranges with the filters, text, the bulk confirmation: ``search_views``).  Target: each at most 100 ms.  A few more views are measured
without a target, to show what stays slow: a middle page, the last page
sorted by a time or by task, a tag and a status together.  Prints a
Markdown table and one PASS/FAIL line per view with a target, writes
every figure to ``bench/results/ui-<timestamp>.json`` and exits 0.

Logging in is not measured: the manager's password is hashed with SSHA
instead of bcrypt (a bcrypt check, which Basic authentication makes on
every request, takes about 250 ms here: ``bcrypt_login_ms`` in the
JSON).

    make bench-ui                      # = .venv/bin/python bench/bench_ui.py
    .venv/bin/python bench/bench_ui.py --jobs 100000 --check
    .venv/bin/python bench/bench_ui.py --db /tmp/ui-1m.fs   # fill once, reuse

With ``--db PATH`` the filled Data.fs is copied to PATH (when PATH does
not exist) or taken from there (when it does) instead of filling again:
the same jobs can be measured on two commits.  ``--check`` runs
``service.checkIndex()`` after the fill (it reads every job: minutes at
a million).
"""
import argparse
import datetime
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time

import webtest
import zope.password.password

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.app import instance
from zodbtasks.app import server
from zodbtasks.app.testing import quiet_instance
from zodbtasks.interfaces import STATUSES
from zodbtasks.task import SimpleTask
from zodbtasks.transactions import own_connection

from bench_core import finish_report, git_state, print_meta

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, 'results')
SERVICE = '/demo/++etc++site/default/jobs'
JOBS = SERVICE + '/@@jobs.html'
OVERVIEW = SERVICE + '/@@overview.html'
BULK = SERVICE + '/@@bulk.html'
LIMIT_MS = 100.0

#: Task name -> share of the jobs.
TASKS = (('mail', 40), ('thumbnail', 25), ('report', 15), ('sync', 15),
         ('cleanup', 5))
WEEK = 7 * 86400
ADD_BATCH = 10000
#: Jobs added per transaction, then run (in groups of as many).
RUN_BATCH = 1000
#: Share of the jobs that have not run: added in the last BURST seconds.
BACKLOG_SHARE = 0.07
BURST = 1800
PROCESSING = 50
CRON_JOBS = 20


def slot(number, salt):
    """A number from 0 to 99 of job ``number``, different per ``salt``
    (so that tasks, failures, priorities and tags do not go together)."""
    return (number + salt) * 2654435761 % 4294967296 % 100


def fail_or_not(number):
    """What every bench task runs: about 7 of 100 fail."""
    if slot(number, 1) < 7:
        raise ValueError('bench failure %d' % number)
    return number


def register_tasks():
    for name, _ in TASKS:
        testing.register_task(name, SimpleTask(fail_or_not,
                                               groupSize=RUN_BATCH))


def task_of(number):
    left = slot(number, 2)
    for name, share in TASKS:
        if left < share:
            return name
        left -= share
    raise AssertionError(number)


def options_of(number):
    """add() keywords of job ``number``: priority and tags."""
    tags = []
    if number % 4 == 0:
        tags.append('customer-%d' % (number // 4 % 50))
    if number % 50 == 7:
        tags.append('urgent')
    if number % 10 == 3:
        tags.append('batch-%d' % (number // 2000))
    which = slot(number, 3)
    priority = 5 if which < 7 else -5 if which >= 97 else 0
    return {'priority': priority, 'tag': tuple(tags)}


def the_service(conn):
    return conn.root()['Application']['demo'].getSiteManager()[
        'default']['jobs']


def fill(db, count, log=print):
    """Fill the demo service with ``count`` jobs (see the docstring);
    return the seconds it took."""
    began = time.perf_counter()
    end = time.time() - 60
    start = end - WEEK
    backlog_from = int(count * (1 - BACKLOG_SHARE))
    step = (WEEK - BURST) / backlog_from
    with own_connection(db) as (conn, tm):
        service = the_service(conn)
        service.cancelAll()
        service.clean()   # the demo's jobs: new ids then follow ``now=``
        tm.commit()
        for first in range(0, backlog_from, RUN_BATCH):
            last = min(first + RUN_BATCH, backlog_from)
            cancel = []
            for n in range(first, last):
                jobid = service.add(task_of(n), n, now=start + n * step,
                                    **options_of(n))
                if slot(n, 4) < 3:
                    cancel.append(jobid)
            for jobid in cancel:
                service.cancel(jobid)
            tm.commit()
            runner.drain(service, now=start + last * step + 30, tm=tm)
            if last % 100000 < RUN_BATCH:
                log('  %d jobs added and run, %.0f s' % (
                    last, time.perf_counter() - began), flush=True)
        add_backlog(service, tm, backlog_from, count, end)
    return time.perf_counter() - began


def add_backlog(service, tm, first, count, end):
    """The jobs of the last BURST seconds, which have not run."""
    queued = None
    step = BURST / max(count - first, 1)
    for n in range(first, count):
        now = end - BURST + (n - first) * step
        kind = n % 20
        options = options_of(n)
        if kind < 12 or queued is None:
            queued = service.add(task_of(n), n, now=now, **options)
        elif kind < 16:
            service.add(task_of(n), n, after=(queued,), now=now, **options)
        elif kind < 18:
            service.add(task_of(n), n, at=end + (1 + n % 72) * 3600, now=now,
                        **options)
        else:
            service.add(task_of(n), n, startLater=True, now=now, **options)
        if n % ADD_BATCH == 0:
            tm.commit()
    for number in range(CRON_JOBS):
        service.addCronJob('cleanup', number, minute=(number % 60,),
                           now=end)
    tm.commit()
    claimed = runner.claim(service, tm, end, PROCESSING, owner='bench-gone',
                           most=PROCESSING)
    assert len(claimed) == PROCESSING, claimed


def count_loads(db):
    """Make ``loads(db)`` count the objects read from ``db``'s storage
    (every connection reads through ``loadBefore``)."""
    storage = db.storage
    load_before = storage.loadBefore
    storage.loads = 0

    def counting(oid, tid):
        storage.loads += 1
        return load_before(oid, tid)
    storage.loadBefore = counting


def loads(db):
    """Objects read from the storage since the last call."""
    count, db.storage.loads = db.storage.loads, 0
    return count


def views(service):
    """(label, path, parameters, whether the 100 ms target applies) of
    every view measured; the views without a target show what is left
    slow (see bench/README.md)."""
    counts = service.countByStatus()
    total = sum(counts.values())
    last = str(max(total - 50, 0))
    found = [('first page', JOBS, {}),
             ('last page', JOBS, {'start': last})]
    for key in ('id', 'task', 'status', 'started', 'completed'):
        for order in ('desc', 'asc'):
            if (key, order) != ('id', 'desc'):
                found.append(('sorted by %s, %s' % (key, order), JOBS,
                              {'sort': key, 'order': order}))
    for status in STATUSES:
        label = 'status = %s%s' % (status, ' (the blocked filter)'
                                   if status == 'blocked' else '')
        found.append((label, JOBS, {'status': status}))
    for task, status in (('mail', 'completed'), ('report', 'error'),
                         ('thumbnail', 'queued'), ('sync', 'blocked'),
                         ('cleanup', 'cancelled')):
        found.append(('task = %s, status = %s' % (task, status), JOBS,
                      {'task': task, 'status': status}))
    for tag in ('urgent', 'customer-7', 'batch-3'):
        found.append(('tag = %s' % tag, JOBS, {'tag': tag}))
    found.append(('Overview', OVERVIEW, {}))
    found = [view + (True,) for view in found]
    mail = service._index.count_by_status_and_task('completed', 'mail') \
        if hasattr(service._index, 'tally_of_tasks') else 0
    found.extend(view + (False,) for view in (
        ('last page, sorted by task', JOBS, {'sort': 'task',
                                             'start': last}),
        ('last page, task = mail, status = completed', JOBS, {
            'task': 'mail', 'status': 'completed',
            'start': str(max(mail - 50, 0))}),
        ('middle page', JOBS, {'start': str(total // 2)}),
        ('last page, sorted by finish time', JOBS, {'sort': 'completed',
                                                    'start': last}),
        ('tag = urgent, status = error', JOBS, {'tag': 'urgent',
                                                'status': 'error'}),
    ))
    found.extend(search_views(service))
    found.extend(view + (False,) for view in (
        ('tab: Tasks', SERVICE + '/@@tasks.html', {}),
        ('tab: Workers', SERVICE + '/@@workers.html', {}),
        ('tab: Failures', SERVICE + '/@@failures.html', {}),
        ('tab: Overview, last day', OVERVIEW, {'range': 'day'}),
        ('tab: live summary (@@jobs.json?summary=1)',
         SERVICE + '/@@jobs.json', {'summary': '1'}),
        ('tab: @@metrics', SERVICE + '/@@metrics', {}),
    ))
    return found


def fill_figures(db, workers, now):
    """Give the service ``workers`` worker records (threads of one
    process) with a day of figures each: every minute, each task's runs
    (zodbtasks.stats), as a busy day of the workers leaves them."""
    from zodbtasks import stats
    from zodbtasks.workers import WorkerRecord
    row = stats.outcome_row
    with own_connection(db) as (conn, tm):
        service = the_service(conn)

        class Ran:  # what stats.outcome_row reads of a job
            status, started, enqueued, scheduledFor = 'completed', 0.0, \
                None, None
        for number in range(workers):
            record = WorkerRecord('bench-host:4242:b0b0b0/%d' % number, now)
            record.figures = stats.Figures()
            last = int(now // 60)
            figures = record.figures
            for minute in range(last - stats.KEEP // 60 + 1, last + 1):
                for task, _ in TASKS:
                    job = Ran()
                    job.started, job.enqueued = minute * 60.0, \
                        minute * 60.0 - 0.5
                    figures.add(minute, task, row(job, minute * 60.0 + 0.2,
                                                  None, False))
                figures.sample(minute, 1000)
            service._workers[record.id] = record
            tm.commit()


def iso(epoch):
    """An ISO time (UTC) as the search form takes it."""
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')


def search_views(service):
    """The Jobs tab's searches (issue 12, part 2): id, short id, created
    and finished ranges with the filters, text; and the bulk action's
    confirmation, which counts the matches.  The targets: every filter
    but text, the short id and the confirmation (bounded scans whose
    cost bench/README.md reports)."""
    jobs, index = service.jobs, service._index
    newest = jobs.maxKey()
    middle = next(iter(jobs.keys(min=(jobs.minKey() + newest) // 2)))
    made = (newest >> 12) / 1000
    done = index.completed.maxKey()[0]
    day, hour = 86400, 3600
    week_ago = made - 7 * day
    mid = week_ago + 3.5 * day
    timed = (
        ('id = a whole id', {'id': str(middle)}),
        ('id = a whole id, status = completed', {'id': str(middle),
                                                 'status': 'completed'}),
        ('created in the last day', {'created_from': iso(made - day)}),
        ('created in an hour mid-week', {'created_from': iso(mid),
                                         'created_to': iso(mid + hour)}),
        ('created in an hour mid-week, status = error', {
            'created_from': iso(mid), 'created_to': iso(mid + hour),
            'status': 'error'}),
        ('created in the last day, task = report, status = error', {
            'created_from': iso(made - day), 'task': 'report',
            'status': 'error'}),
        ('created in the last day, task = mail, status = error (none)', {
            'created_from': iso(made - day), 'task': 'mail',
            'status': 'error'}),
        ('created in a day mid-week, tag = urgent', {
            'created_from': iso(mid), 'created_to': iso(mid + day),
            'tag': 'urgent'}),
        ('created in the last day, oldest first', {
            'created_from': iso(made - day), 'order': 'asc'}),
        ('finished in the last hour', {'finished_from': iso(done - hour)}),
        ('finished in an hour mid-week', {'finished_from': iso(mid),
                                          'finished_to': iso(mid + hour)}),
        ('finished in the last day, status = error', {
            'finished_from': iso(done - day), 'status': 'error'}),
        ('finished in an hour mid-week, task = report, status = error', {
            'finished_from': iso(mid), 'finished_to': iso(mid + hour),
            'task': 'report', 'status': 'error'}),
    )
    untimed = (
        ('id = the short form (last 6 digits), status = error', JOBS, {
            'id': str(middle)[-6:], 'status': 'error'}),
        ('text in the error, status = error', JOBS, {
            'q': 'bench failure 4242', 'status': 'error'}),
        ('text in the input (no match), task = mail', JOBS, {
            'q': 'no such text', 'task': 'mail'}),
        ('text in the input, created in an hour mid-week', JOBS, {
            'q': '7', 'created_from': iso(mid),
            'created_to': iso(mid + hour)}),
        ('bulk confirmation: retry status = error', BULK, {
            'action': 'retry', 'status': 'error'}),
        ('bulk confirmation: retry errors created in the last day', BULK, {
            'action': 'retry', 'status': 'error',
            'created_from': iso(made - day)}),
        ('bulk confirmation: delete finished in a day mid-week', BULK, {
            'action': 'delete', 'finished_from': iso(mid),
            'finished_to': iso(mid + day)}),
    )
    return [('search: ' + label, JOBS, params, True)
            for label, params in timed] + [
        ('search: ' + label, path, params, False)
        for label, path, params in untimed]


def render(browser, db, path, params, repeat, warm=False):
    """Server times (ms) and objects loaded of ``repeat`` renders, each
    with cold caches (``warm``: after a first render, caches kept)."""
    times, loaded = [], []
    if warm:
        browser.get(path, params)
    for _ in range(repeat):
        if not warm:
            db.cacheMinimize()
        loads(db)
        began = time.perf_counter()
        response = browser.get(path, params)
        times.append((time.perf_counter() - began) * 1000)
        loaded.append(loads(db))
        assert response.status_int == 200, (path, params)
    return times, loaded


def first_requests(browser):
    """ms of the first request of the Jobs tab (with a task and status
    filter) and of the Overview: templates are compiled, and what is made
    on first use (in a database filled by an older commit) is made."""
    found = {}
    for name, path, params in (
            ('jobs', JOBS, {'task': 'mail', 'status': 'error'}),
            ('overview', OVERVIEW, {})):
        began = time.perf_counter()
        browser.get(path, params)
        found[name] = (time.perf_counter() - began) * 1000
    return found


def measure(browser, db, service, repeat, log=print, only=None,
            warm=False):
    rows = []
    for label, path, params, target in views(service):
        if only is not None and not label.startswith(only):
            continue
        times, loaded = render(browser, db, path, params, repeat, warm)
        rows.append({'view': label, 'path': path, 'params': params,
                     'target': target, 'ms': statistics.median(times),
                     'runs_ms': times,
                     'objects_loaded': statistics.median(loaded)})
        log('| %s%s | %.0f | %d |' % (label, '' if target else ' (no target)',
                                       rows[-1]['ms'],
                                       rows[-1]['objects_loaded']))
    return rows


def time_bulk(db):
    """Seconds a bulk retry of the errors created in the last day takes
    (the bulk task called as the runner would, chunks committed by it)."""
    from zodbtasks import bulk
    with own_connection(db) as (conn, tm):
        service = the_service(conn)
        made = (service.jobs.maxKey() >> 12) / 1000
        selector = {'status': 'error', 'created_from': made - 86400}
        jobid = bulk.startBulk(service, 'retry', selector)
        tm.commit()
        began = time.perf_counter()
        result = bulk.BULK(service, jobid, service.jobs[jobid].input)
        seconds = time.perf_counter() - began
    return {'changed': result['changed'], 'seconds': seconds,
            'per_second': result['changed'] / seconds,
            'chunks': -(-result['changed'] // bulk.CHUNK_SIZE)}


def make_app(folder, db_copy=None):
    """The instance's WSGI application, its databases and the manager's
    password (hashed with SSHA: see the module docstring)."""
    config, password = quiet_instance(folder)
    instance.write_principals(folder, password, manager='SSHA')
    if db_copy is not None:
        for suffix in ('', '.index'):
            if os.path.exists(db_copy + suffix):
                shutil.copyfile(db_copy + suffix,
                                os.path.join(folder, 'Data.fs' + suffix))
    app, databases = server.make_app(config)
    logging.getLogger().setLevel(logging.WARNING)
    return app, databases, password


def login_ms():
    """What checking the manager's bcrypt hash costs (ms), which every
    request with Basic authentication of a default instance pays."""
    checker = zope.password.password.BCRYPTPasswordManager()
    hashed = checker.encodePassword('x' * 22)
    began = time.perf_counter()
    assert checker.checkPassword(hashed, 'x' * 22)
    return (time.perf_counter() - began) * 1000


def save_copy(folder, path):
    """Copy the instance's Data.fs (nothing is written meanwhile) to
    ``path`` and give the copy its index."""
    import ZODB.FileStorage
    shutil.copyfile(os.path.join(folder, 'Data.fs'), path)
    ZODB.FileStorage.FileStorage(path).close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--jobs', type=int, default=1000000)
    parser.add_argument('--repeat', type=int, default=3,
                        help='cold renders per view (median; default 3)')
    parser.add_argument('--db', help='a filled Data.fs to reuse, or where '
                        'to keep a copy of the one this run fills')
    parser.add_argument('--check', action='store_true',
                        help='run checkIndex() after the fill')
    parser.add_argument('--only', help='measure only the views whose label '
                        'starts with this (e.g. "search:")')
    parser.add_argument('--warm', action='store_true',
                        help='render each view once, then measure with the '
                        'caches kept (as a busy server serves them)')
    parser.add_argument('--figures', type=int, default=0, metavar='N',
                        help='first give the service N worker records with '
                        'a day of figures each (zodbtasks.stats; the '
                        '"tab:" views read them), in the copy')
    parser.add_argument('--bulk', action='store_true',
                        help='then time a bulk retry of the errors of the '
                        'last day (zodbtasks.bulk, on the copy)')
    args = parser.parse_args(argv)
    register_tasks()
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = dict(git_state(), date=started.isoformat(timespec='seconds'),
                python=sys.version.split()[0], platform=platform.platform(),
                cpus=os.cpu_count(), loadavg_start=os.getloadavg(),
                repeat=args.repeat)
    reuse = args.db is not None and os.path.exists(args.db)
    folder = tempfile.mkdtemp(prefix='zodbtasks-ui-')
    try:
        app, databases, password = make_app(
            folder, args.db if reuse else None)
        db = databases[0]
        if reuse:
            print('reusing the jobs of %s' % args.db)
        else:
            print('filling %d jobs...' % args.jobs, flush=True)
            logging.getLogger('zodbtasks').setLevel(logging.ERROR)
            meta['fill_seconds'] = fill(db, args.jobs)
            logging.getLogger('zodbtasks').setLevel(logging.NOTSET)
            print('filled in %.0f s' % meta['fill_seconds'])
            if args.db:
                save_copy(folder, args.db)
        with own_connection(db) as (conn, _):
            service = the_service(conn)
            meta['counts'] = service.countByStatus()
            meta['jobs'] = sum(meta['counts'].values())
            if args.check:
                began = time.perf_counter()
                meta['check_index'] = service.checkIndex()
                print('checkIndex() in %.0f s: %d problems' % (
                    time.perf_counter() - began, len(meta['check_index'])))
        if args.figures:
            began = time.perf_counter()
            fill_figures(db, args.figures, time.time())
            meta['figures'] = {'workers': args.figures, 'seconds':
                               time.perf_counter() - began}
        meta['data_fs_mb'] = os.path.getsize(
            os.path.join(folder, 'Data.fs')) / 2 ** 20
        print('%(jobs)d jobs: %(counts)s' % meta)
        meta['bcrypt_login_ms'] = login_ms()
        count_loads(db)
        browser = webtest.TestApp(app)
        browser.authorization = ('Basic', ('admin', password))
        print('\n| view, %d jobs, cold cache | ms | objects loaded |\n'
              '|---|---:|---:|' % meta['jobs'], flush=True)
        meta['first_requests_ms'] = first_requests(browser)
        print('first requests: Jobs tab %(jobs).0f ms, Overview '
              '%(overview).0f ms' % meta['first_requests_ms'])
        with own_connection(db) as (conn, _):
            rows = measure(browser, db, the_service(conn), args.repeat,
                           only=args.only, warm=args.warm)
        if args.bulk:
            meta['bulk'] = time_bulk(db)
            print('bulk retry: %(changed)d jobs in %(seconds).1f s '
                  '(%(per_second).0f jobs/s, %(chunks)d chunks)'
                  % meta['bulk'])
        server.close_databases(databases)
    finally:
        shutil.rmtree(folder)
    meta.update(loadavg_end=os.getloadavg(), seconds=(
        datetime.datetime.now(datetime.timezone.utc) - started).seconds)
    figures = {'meta': meta, 'views': rows, 'targets': [
        {'name': '%s (ms)' % row['view'], 'value': row['ms'],
         'limit': '<= %.0f' % LIMIT_MS, 'passed': row['ms'] <= LIMIT_MS}
        for row in rows if row['target']]}
    print()
    print_meta(meta)
    finish_report(figures, os.path.join(
        RESULTS_DIR, 'ui-%s.json' % started.strftime('%Y%m%dT%H%M%SZ')))
    return 0  # a report: the targets' results are printed and in the JSON


if __name__ == '__main__':
    sys.exit(main())
