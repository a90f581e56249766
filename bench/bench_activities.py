"""Benchmarks of the activity options (issue 8): what ``uniqueKey`` and
priorities cost, on real FileStorages in a temporary folder.  A report,
not a test: it prints the figures and one PASS/FAIL line per target and
always exits 0.

    .venv/bin/python bench/bench_activities.py [--jobs 5000] [--repeat 3]

- ``add()`` with ``uniqueKey`` against a plain ``add()``: N adds, one
  commit per 1,000, the best of the repeats; target <= 1.3x.
- ``process()`` of N jobs with mixed priorities against N plain jobs in
  the same run, for information: the jobs a claim takes are no longer
  neighbours by id, so the status sets' writes touch more buckets.  The
  rate of plain jobs against the raw FileStorage is ``bench_core.py``'s.
"""
import argparse
import shutil
import tempfile
import time

import transaction

from zodbtasks import testing


def _service(folder):
    db = testing.create_database(folder)
    connection = db.open()
    site = testing.add_site(testing.setup_root(connection), 'site')
    service = testing.add_service(site, 'jobs')
    transaction.commit()
    return db, connection, service


def _adds(folder, jobs, option):
    db, connection, service = _service(folder)
    try:
        began = time.perf_counter()
        for number in range(jobs):
            service.add('noop', now=1000.0 + number, **option(number))
            if number % 1000 == 999:
                transaction.commit()
        transaction.commit()
        return (time.perf_counter() - began) / jobs * 1e6
    finally:
        connection.close()
        testing.close_database(db)


def _process(folder, jobs, option):
    db, connection, service = _service(folder)
    try:
        for number in range(jobs):
            service.add('noop', now=1000.0 + number, **option(number))
            if number % 1000 == 999:
                transaction.commit()
        transaction.commit()
        began = time.perf_counter()
        assert service.process(now=10 ** 6) == jobs
        return jobs / (time.perf_counter() - began)
    finally:
        connection.close()
        testing.close_database(db)


def _best(measure, repeat, better=min):
    results = []
    for _ in range(repeat):
        folder = tempfile.mkdtemp(prefix='zodbtasks-bench-')
        try:
            results.append(measure(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return better(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--jobs', type=int, default=5000)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args(argv)
    testing.register_task('noop', lambda input: None)
    plain = _best(lambda f: _adds(f, args.jobs, lambda n: {}), args.repeat)
    unique = _best(lambda f: _adds(f, args.jobs, lambda n: {
        'uniqueKey': 'key-%d' % n}), args.repeat)
    rate = _best(lambda f: _process(f, args.jobs, lambda n: {}),
                 args.repeat, max)
    mixed = _best(lambda f: _process(f, args.jobs, lambda n: {
        'priority': n % 7 - 3}), args.repeat, max)
    print('add(): plain %.1f us, with uniqueKey %.1f us' % (plain, unique))
    print('process(): plain %.0f jobs/s, mixed priorities %.0f jobs/s'
          % (rate, mixed))
    print('process() mixed priorities / plain = %.2f (information)'
          % (mixed / rate))
    ratio = unique / plain
    print('%s: add() with uniqueKey / plain add() = %.2f (target <= 1.3)'
          % ('PASS' if ratio <= 1.3 else 'FAIL', ratio))
    return 0


if __name__ == '__main__':
    main()
