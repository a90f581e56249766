"""How long the Jobs tab takes to render with many jobs (not a test).

Builds a real instance (zodbtasks.app: site.zcml, ZMI, security), fills
the demo service with N jobs (default 100,000; a quarter completed, a
quarter failed, the rest queued), then renders the first page of
``@@jobs.html`` through WebTest with cold object caches: newest first,
sorted by task, filtered by status, filtered by task and status, and the
last page.  Also counts the objects each render loads.  Target: every
first page well under a second, without loading every job.

    .venv/bin/python bench/bench_ui.py [--jobs N]
"""
import argparse
import logging
import statistics
import tempfile
import shutil
import time

import webtest

from zodbtasks.app import server
from zodbtasks.app.testing import quiet_instance
from zodbtasks import runner
from zodbtasks.transactions import own_connection

JOBS = '/demo/++etc++site/default/jobs/@@jobs.html'
VIEWS = [
    ('newest first', {}),
    ('sorted by task', {'sort': 'task', 'order': 'asc'}),
    ('sorted by finish time', {'sort': 'completed'}),
    ('status = error', {'status': 'error'}),
    ('task = echo, status = completed', {'task': 'echo',
                                         'status': 'completed'}),
]


def make_app(folder):
    config, password = quiet_instance(folder)
    app, databases = server.make_app(config)
    logging.getLogger().setLevel(logging.WARNING)
    return app, databases, password


def fill(db, count):
    """Add ``count`` jobs and run half of them; return jobs/s."""
    with own_connection(db) as (conn, tm):
        service = conn.root()['Application']['demo'].getSiteManager()[
            'default']['jobs']
        service.cancelAll()
        started = time.perf_counter()
        for index in range(count):
            service.add(('echo', 'fail', 'log')[index % 3], index)
            if index % 10000 == 9999:
                tm.commit()
        tm.commit()
        ran = 0
        while ran < count // 2:
            ran += runner.drain(service, tm=tm, limit=5000)
        return count / (time.perf_counter() - started)


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


def render(browser, db, params, repeat=3):
    """Median ms and objects loaded to render a page, cold caches."""
    times, loaded = [], []
    for _ in range(repeat):
        db.cacheMinimize()
        loads(db)
        started = time.perf_counter()
        response = browser.get(JOBS, params)
        times.append(time.perf_counter() - started)
        loaded.append(loads(db))
        assert response.status_int == 200
    return statistics.median(times) * 1000, statistics.median(loaded)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--jobs', type=int, default=100000)
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix='zodbtasks-ui-')
    app, databases, password = make_app(folder)
    db = databases[0]
    count_loads(db)
    print('filling %d jobs...' % args.jobs)
    rate = fill(db, args.jobs)
    print('filled and half processed at %.0f jobs/s' % rate)
    browser = webtest.TestApp(app)
    browser.authorization = ('Basic', ('admin', password))
    print('\n| Jobs tab, first page of 50, %d jobs, cold cache | ms | '
          'objects loaded |' % args.jobs)
    print('|---|---:|---:|')
    for label, params in VIEWS:
        ms, loaded = render(browser, db, params)
        print('| %s | %.0f | %d |' % (label, ms, loaded))
    ms, loaded = render(browser, db, {'start': str(args.jobs - 50)})
    print('| last page (start=%d) | %.0f | %d |' % (args.jobs - 50, ms,
                                                   loaded))
    server.close_databases(databases)
    shutil.rmtree(folder)


if __name__ == '__main__':
    main()
