"""How much space a million jobs take, before and after retention and a
pack.

A report, not a test: it fills a FileStorage with N finished no-op jobs
(added 10,000 per transaction, run by ``process()`` as a grouping task),
then lets retention remove them all (``removeExpired`` with a keep time
of 0, in transactions of at most 1,000 jobs) and packs the storage, and
prints the Data.fs size at each step, the time each took and the
removal rate.  The files go in a temporary folder, removed at the end.

    .venv/bin/python bench/bench_retention.py             # 1,000,000 jobs
    .venv/bin/python bench/bench_retention.py --jobs 100000
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import transaction
import ZODB
import ZODB.FileStorage
import zope.component.testing

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'src'))
sys.path.insert(0, HERE)

from zodbtasks import testing  # noqa: E402
from zodbtasks.task import SimpleTask  # noqa: E402
from bench_core import git_state  # noqa: E402

MB = 1024 * 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--jobs', type=int, default=1000000)
    args = parser.parse_args(argv)
    zope.component.testing.setUp()
    testing.register_task('noop', SimpleTask(lambda n: None,
                                             groupSize=1000))
    folder = tempfile.mkdtemp(prefix='zodbtasks-retention-')
    path = os.path.join(folder, 'Data.fs')
    db = ZODB.DB(ZODB.FileStorage.FileStorage(path), cache_size=20000)
    rows = []

    def step(name, began):
        rows.append((name, os.path.getsize(path) / MB,
                     time.perf_counter() - began))
        print('%-34s %9.1f MB %8.1f s' % rows[-1], flush=True)
    try:
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        site = testing.add_site(testing.setup_root(connection), 'bench')
        service = testing.add_service(site)
        tm.commit()
        began = time.perf_counter()
        for number in range(1, args.jobs + 1):
            service.add('noop')
            if number % 10000 == 0:
                tm.commit()
        tm.commit()
        step('%d jobs added' % args.jobs, began)
        began = time.perf_counter()
        assert service.process() == args.jobs
        step('all run (groups of 1,000)', began)
        began = time.perf_counter()
        db.pack()
        step('packed, jobs kept', began)
        began = time.perf_counter()
        removed = service.removeExpired({'completed': 0})
        assert removed == args.jobs and len(service) == 0
        step('removed by retention', began)
        removal = rows[-1][2]
        began = time.perf_counter()
        db.pack()
        step('packed after retention', began)
        assert service.checkIndex() == []
        connection.close()
    finally:
        db.close()
        shutil.rmtree(folder)
    print('\n| step | Data.fs MB | seconds |\n|---|---:|---:|')
    for name, size, seconds in rows:
        print('| %s | %.1f | %.1f |' % (name, size, seconds))
    state = git_state()
    print('\nretention removed %.0f jobs/s (transactions of at most 1,000)'
          % (args.jobs / removal))
    print('commit %s%s' % (state['commit'], ' + changes in src/'
                           if state['src_changed'] else ''))


if __name__ == '__main__':
    main()
