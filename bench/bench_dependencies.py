"""Benchmarks of dependencies (issue 8): blocked jobs must not slow the
claims down, and releasing many waiters must happen in bounded
transactions.  On real FileStorages in a temporary folder.  A report, not
a test: it prints the figures and one PASS/FAIL line per target and
always exits 0.

    .venv/bin/python bench/bench_dependencies.py [--blocked 100000]
        [--jobs 2000] [--waiters 10000] [--repeat 3]

1. claim + run time per plain job (``process()`` of ``--jobs`` jobs) on a
   service where ``--blocked`` jobs wait behind a job that never runs,
   against a service with none, in the same run; target <= 1.2x.  The
   raw FileStorage commit rate of the same run is printed next to it.
2. releasing a tag that ``--waiters`` jobs wait for (``afterTag``): the
   jobs released per transaction (target <= 1,000), how many
   transactions, and the longest claim transaction while plain jobs run
   at the same time, against the longest one without the release.
"""
import argparse
import shutil
import statistics
import tempfile
import time

import persistent
import transaction

from zodbtasks import runner
from zodbtasks import testing
from zodbtasks.interfaces import QUEUED

from bench_activities import _service  # the same service in a new FS


class _Tiny(persistent.Persistent):
    value = 0


def _close(db, connection):
    transaction.abort()
    connection.close()
    testing.close_database(db)


def raw_rate(folder, commits=1000):
    db = testing.create_database(folder)
    connection = db.open()
    root = connection.root()
    began = time.perf_counter()
    for number in range(commits):
        root['x%d' % (number % 50)] = _Tiny()
        transaction.commit()
    rate = commits / (time.perf_counter() - began)
    _close(db, connection)
    return rate


def _add(service, count, now, **options):
    for number in range(count):
        service.add('noop', now=now, **options)
        if number % 1000 == 999:
            transaction.commit()
    transaction.commit()


def per_job(folder, jobs, blocked):
    """ms per plain job run by process() with ``blocked`` jobs waiting."""
    db, connection, service = _service(folder)
    try:
        if blocked:
            gate = service.add('noop', startLater=True, now=1.0)
            _add(service, blocked, 2.0, after=gate)
        _add(service, jobs, 3.0)
        began = time.perf_counter()
        assert service.process(now=10.0 ** 6) == jobs
        elapsed = time.perf_counter() - began
        if blocked:
            assert service.countByStatus()['blocked'] == blocked
        return elapsed / jobs * 1000.0
    finally:
        _close(db, connection)


def tag_release(folder, waiters, plain):
    """Release ``waiters`` jobs waiting for one tagged job while
    ``plain`` plain jobs run; return the figures."""
    db, connection, service = _service(folder)
    claims = []
    original = runner.claim

    def timed_claim(*args, **kw):
        before = service.countByStatus()[QUEUED]
        began = time.perf_counter()
        claimed = original(*args, **kw)
        claims.append((time.perf_counter() - began,
                       service.countByStatus()[QUEUED] - before
                       + len(claimed)))
        return claimed
    try:
        service.add('noop', tag='x', now=1.0)
        _add(service, waiters, 2.0, afterTag='x')
        _add(service, plain, 3.0)
        runner.claim = timed_claim
        ran = service.process(now=10.0 ** 6)
        assert ran == 1 + waiters + plain, ran
        released = [count for _, count in claims]
        return {'transactions': sum(1 for count in released if count > 20),
                'most': max(released),
                'longest_ms': max(seconds for seconds, _ in claims) * 1e3,
                'median_ms': statistics.median(
                    seconds for seconds, _ in claims) * 1e3}
    finally:
        runner.claim = original
        _close(db, connection)


def plain_claims(folder, plain):
    db, connection, service = _service(folder)
    claims = []
    original = runner.claim

    def timed_claim(*args, **kw):
        began = time.perf_counter()
        claimed = original(*args, **kw)
        claims.append(time.perf_counter() - began)
        return claimed
    try:
        _add(service, plain, 3.0)
        runner.claim = timed_claim
        service.process(now=10.0 ** 6)
        return max(claims) * 1e3, statistics.median(claims) * 1e3
    finally:
        runner.claim = original
        _close(db, connection)


def _in_folder(measure):
    folder = tempfile.mkdtemp(prefix='zodbtasks-bench-')
    try:
        return measure(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--blocked', type=int, default=100000)
    parser.add_argument('--jobs', type=int, default=2000)
    parser.add_argument('--waiters', type=int, default=10000)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args(argv)
    testing.register_task('noop', lambda input: None)
    raw = statistics.median(_in_folder(raw_rate) for _ in range(args.repeat))
    none, some = [], []
    for _ in range(args.repeat):  # interleaved: drifts hit both alike
        none.append(_in_folder(lambda f: per_job(f, args.jobs, 0)))
        some.append(_in_folder(lambda f: per_job(f, args.jobs,
                                                 args.blocked)))
    none, some = statistics.median(none), statistics.median(some)
    print('raw FileStorage: %.0f commits/s' % raw)
    print('claim + run per job: %.3f ms with no blocked job (%.2f of raw), '
          '%.3f ms with %d blocked' % (none, 1000.0 / none / raw, some,
                                       args.blocked))
    ratio = some / none
    print('%s: per-job time with %d blocked / with none = %.2f '
          '(target <= 1.2)' % ('PASS' if ratio <= 1.2 else 'FAIL',
                               args.blocked, ratio))
    release = _in_folder(lambda f: tag_release(f, args.waiters, args.jobs))
    longest, median = _in_folder(lambda f: plain_claims(f, args.jobs))
    print('tag release of %d waiters: %d transactions, at most %d jobs '
          'each; longest claim transaction %.1f ms (median %.1f ms); '
          'without a release: longest %.1f ms (median %.1f ms)' % (
              args.waiters, release['transactions'], release['most'],
              release['longest_ms'], release['median_ms'], longest, median))
    print('%s: at most %d jobs released per transaction (target <= 1000)'
          % ('PASS' if release['most'] <= 1000 else 'FAIL',
             release['most']))
    return 0


if __name__ == '__main__':
    main()
