"""What each transaction writes: records and bytes per job, by the
structure they belong to, for the three ways jobs run.

A report, not a test (issue 10, part 2: "the map for the next person").
Three modes, each on a fresh FileStorage that already holds BACKLOG
finished jobs (so that the trees have their usual depth):

- **trickle**: one ``add()`` per transaction, taken at once by a
  processor thread (the web case), the next added once it completed;
- **processNext**: one ``add()`` per transaction, then ``processNext()``
  in the same thread (which folds at its end);
- **batch**: JOBS jobs waiting, then one ``process()`` (claims of 20);
- **grouped**: the same with ``SimpleTask(func, groupSize=100)``.

Afterwards it reads the transactions of the timed part back from the
Data.fs (``FileIterator``) and names every record by the structure it
belongs to (found by walking the service's persistent attributes; a
record whose object is gone by then is named by its class).  For the
one-job modes it also splits the bytes by the kind of transaction: the
add (writes the jobs tree), a fold (writes finish times: a claim may fold
too), a claim (writes a worker record) and a run (the rest).

    .venv/bin/python bench/bench_writes.py
    .venv/bin/python bench/bench_writes.py --jobs 2000 --backlog 10000
    .venv/bin/python bench/bench_writes.py --priority 5
"""
import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

import transaction
import ZODB.FileStorage
import zope.component.testing
from ZODB.utils import get_pickle_metadata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'src'))
sys.path.insert(0, HERE)

from zodbtasks import processor  # noqa: E402
from zodbtasks import testing  # noqa: E402
from zodbtasks.interfaces import COMPLETED  # noqa: E402
from zodbtasks.task import SimpleTask  # noqa: E402
from bench_core import git_state  # noqa: E402

#: FileStorage's data record header, counted with each record.
HEADER = 42
STEPS = ('add', 'fold (with or without a claim)', 'claim', 'run')
#: Seconds to wait for one job or for the counts.
DEADLINE = 30.0


def labels(service):
    """oid -> the name of the structure the object belongs to."""
    names = {}

    def walk(obj, label):
        # iterative: a bucket's state names the next bucket, so chains
        # are as long as the tree is wide
        stack = [(obj, label)]
        while stack:
            value, label = stack.pop()
            oid = getattr(value, '_p_oid', None)
            if oid is not None:
                if oid in names:
                    continue
                names[oid] = label
                try:
                    value = value.__getstate__()
                except Exception:  # noqa: BLE001 - no state to walk
                    continue
            if isinstance(value, (tuple, list)):
                stack.extend((item, label) for item in value)
            elif isinstance(value, dict):
                stack.extend((item, label) for item in value.values())

    def visit(value, label):
        walk(value, label)

    for job in service.jobs.values():
        names[job._p_oid] = 'job'
        if getattr(job.input, '_p_oid', None) is not None:
            names[job.input._p_oid] = 'job input'
    index = service._index
    for status, ids in index.by_status.sets.items():
        walk(ids, 'index: status %s' % status)
    for name in ('task_tally', 'priority_tally'):  # zodbtasks.tallies
        tally = getattr(index, name, None)
        if tally is not None:
            walk(tally.table, 'index: %s' % name.replace('_', ' '))
            names.setdefault(tally._p_oid, 'index: %s' % name)
    for name in ('by_task', 'by_priority'):
        if getattr(index, name, None) is not None:
            walk(getattr(index, name), 'index: %s' % name)
    walk(index.by_status, 'index: status sets')
    for name in ('by_tag', 'started', 'completed'):
        if getattr(index, name, None) is not None:
            walk(getattr(index, name), 'index: %s' % name)
    names[index._p_oid] = 'index'
    for name, value in sorted(vars(service).items()):
        if name not in ('_index', 'jobs', '__parent__'):
            visit(value, 'service.%s' % name)
    walk(service.jobs, 'jobs tree')
    names[service._p_oid] = 'service'
    return names


def records(path, after):
    """[(transaction number, oid, class, bytes)] of the transactions that
    start at or after file position ``after``."""
    found = []
    iterator = ZODB.FileStorage.FileIterator(path)
    try:
        for number, txn in enumerate(t for t in iterator
                                     if t._tpos >= after):
            for record in txn:
                if record.data is None:
                    continue
                found.append((number, record.oid,
                              get_pickle_metadata(record.data)[1],
                              len(record.data) + HEADER))
    finally:
        iterator.close()
    return found


def fill(service, count, task, finished, priority=0):
    tm = service._p_jar.transaction_manager
    for number in range(1, count + 1):
        service.add(task, priority=priority)
        if number % 1000 == 0:
            tm.commit()
    tm.commit()
    if finished:
        service.process()


def measure(mode, jobs, backlog, priority=0):
    folder = tempfile.mkdtemp(prefix='zodbtasks-writes-')
    path = os.path.join(folder, 'Data.fs')
    db = ZODB.DB(ZODB.FileStorage.FileStorage(path), cache_size=50000)
    try:
        tm = transaction.TransactionManager()
        connection = db.open(transaction_manager=tm)
        site = testing.add_site(testing.setup_root(connection), 'bench')
        service = testing.add_service(site)
        tm.commit()
        task = 'grouped' if mode == 'grouped' else 'noop'
        fill(service, backlog, 'noop', finished=True)
        if mode not in ('trickle', 'processNext'):
            fill(service, jobs, task, finished=False, priority=priority)
        start = os.path.getsize(path)
        if mode == 'trickle':
            trickle(service, tm, jobs, backlog, priority)
        elif mode == 'processNext':
            for _ in range(jobs):
                service.add('noop', priority=priority)
                tm.commit()
                assert service.processNext()
        else:
            assert service.process() == jobs
        tm.abort()
        names = labels(service)
        connection.close()
    finally:
        db.close()
    found = records(path, start)
    shutil.rmtree(folder)
    return [(number, names.get(oid, 'gone: %s' % cls), size)
            for number, oid, cls, size in found]


def wait(tm, predicate, what):
    end = time.monotonic() + DEADLINE
    while True:
        tm.abort()
        tm.begin()
        if predicate():
            return
        if time.monotonic() > end:
            raise RuntimeError(what)
        time.sleep(0.0005)


def trickle(service, tm, jobs, backlog, priority=0):
    """One add() per transaction; a processor thread takes each job; the
    next is added once the job completed; then the counts catch up and
    the processor stops (its retirement folds what is left)."""
    processor.start(service)
    try:
        for _ in range(jobs):
            jobid = service.add('noop', priority=priority)
            tm.commit()
            wait(tm, lambda: service.jobs[jobid].status == COMPLETED,
                 'job %s did not complete' % jobid)
        wait(tm, lambda: service.countByStatus()[COMPLETED]
             == backlog + jobs, 'the counts did not catch up')
    finally:
        for thread in processor.stop(service):
            thread.join(DEADLINE)


def table(title, rows, jobs):
    by_name = collections.defaultdict(lambda: [0, 0])
    for _, name, size in rows:
        by_name[name][0] += 1
        by_name[name][1] += size
    lines = ['### %s' % title, '',
             '| structure | records/job | bytes/job |', '|---|---:|---:|']
    for name, (count, size) in sorted(by_name.items(),
                                      key=lambda item: -item[1][1]):
        lines.append('| %s | %.2f | %.0f |' % (name, count / jobs,
                                               size / jobs))
    total = sum(size for _, _, size in rows)
    commits = len({number for number, _, _ in rows})
    lines.append('| **all** | %.2f | **%.0f** |' % (len(rows) / jobs,
                                                    total / jobs))
    lines.append('')
    lines.append('%d jobs, %d transactions that wrote (%.2f per job)'
                 % (jobs, commits, commits / jobs))
    return '\n'.join(lines)


def steps(rows, jobs):
    """Transactions and bytes per job by kind of transaction (see the
    module docstring)."""
    names, sizes = collections.defaultdict(set), collections.Counter()
    for number, name, size in rows:
        names[number].add(name)
        sizes[number] += size
    count, size = collections.Counter(), collections.Counter()
    for number, written in names.items():
        if 'jobs tree' in written:
            kind = STEPS[0]
        elif 'index: completed' in written:
            kind = STEPS[1]
        elif written & {'service._workers', 'gone: WorkerRecord',
                         'gone: BTrees.LLBTree.LLTreeSet',
                         'gone: zodbtasks.trees.IdSet'}:
            kind = STEPS[2]
        else:
            kind = STEPS[3]
        count[kind] += 1
        size[kind] += sizes[number]
    lines = ['| transaction | per job | bytes/job |', '|---|---:|---:|']
    for kind in STEPS:
        lines.append('| %s | %.2f | %.0f |' % (kind, count[kind] / jobs,
                                               size[kind] / jobs))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--jobs', type=int, default=1000)
    parser.add_argument('--backlog', type=int, default=10000)
    parser.add_argument('--priority', type=int, default=0,
                        help='the priority of the measured jobs')
    args = parser.parse_args(argv)
    zope.component.testing.setUp()
    testing.register_task('noop', SimpleTask(lambda n: None))
    testing.register_task('grouped', SimpleTask(lambda n: None,
                                                groupSize=100))
    state = git_state()
    print('commit %s%s; %d jobs of priority %d per mode over %d finished '
          'jobs\n' % (state['commit'], ' + changes in src/'
                      if state['src_changed'] else '', args.jobs,
                      args.priority, args.backlog))
    for mode in ('trickle', 'processNext', 'batch', 'grouped'):
        rows = measure(mode, args.jobs, args.backlog, args.priority)
        print(table(mode, rows, args.jobs))
        if mode in ('trickle', 'processNext'):
            print()
            print(steps(rows, args.jobs))
        print()


if __name__ == '__main__':
    main()
