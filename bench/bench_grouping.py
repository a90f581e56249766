"""Benchmark of grouped execution (issue 9): no-op jobs of a grouping task
against ungrouped jobs and against Huey's SQLite consumer, in one run.

Run: ``.venv/bin/python bench/bench_grouping.py [--repeat N] [--jobs N]
[--profile]`` (``make bench-grouping``, which installs
``bench/requirements.txt``: huey, for this bench only).  A report, not a
test: it prints the figures, a Markdown table and one PASS/FAIL line per
target, writes every figure to ``bench/results/grouping-<timestamp>.json``
and exits 0.

Each round measures, in this order (rounds interleaved, medians reported):

1. raw FileStorage rate: tiny commits/s (``bench_core.measure_raw``), the
   bound of one commit per job, and the reference of every ratio.
2. Huey: ``huey.SqliteHuey`` on a file in the temporary folder with its
   defaults (the journal mode and ``synchronous`` it runs with are read
   from its connection); N tasks are enqueued (untimed), then a consumer
   with one 'thread' worker is created (untimed) and started in this
   process; the clock runs from ``consumer.start()`` until the task has
   run N times.  Consumer start-up before ``start()`` is excluded; the gap
   from ``start()`` to the first task is in the JSON.
3. zodbtasks, ungrouped: N jobs of a plain ``SimpleTask`` added (one commit
   per 1,000, untimed), then one timed ``service.process()``.
4. zodbtasks, grouped: the same with ``SimpleTask(func, groupSize=100)``,
   and with ``groupSize=1000``.
5. zodbtasks, grouped (100), processor thread: from
   ``service.startProcessing()`` (one thread) until a fresh transaction
   sees ``countByStatus()['completed'] == N``.

Every task, Huey's included, is the same function: it counts its calls
under a lock and sets an Event at the N-th.  Bytes: the Data.fs growth
during the timed run divided by N, and during the adds divided by N.
"""
import argparse
import cProfile
import datetime
import io
import os
import platform
import pstats
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time

from zodbtasks import testing
from zodbtasks.task import SimpleTask

from bench_core import ADD_BATCH, Clock, add_jobs, fresh_service, git_state
from bench_core import finish_report, measure_raw, print_meta

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, 'results')

GROUP_SIZES = (100, 1000)
WAIT_TIMEOUT = 300.0       # seconds any one run may take to finish
MIN_HUEY_RATIO = 1.5       # grouped(100) process() / Huey
MAX_GROUPED_BYTES = 512    # Data.fs bytes per grouped(100) job

#: (key, label, task name) of the zodbtasks figures, in table order.
ZODBTASKS = (
    ('ungrouped', 'process(), ungrouped', 'count'),
    ('grouped100', 'process(), groupSize=100', 'count100'),
    ('grouped1000', 'process(), groupSize=1000', 'count1000'),
    ('thread100', 'processor thread, groupSize=100', 'count100'),
)


class Counter:
    """Counts calls under a lock; ``done`` is set at the ``expected``-th;
    ``first`` is the perf_counter of the first call."""

    def __init__(self):
        self.reset(0)

    def reset(self, expected):
        self.lock = threading.Lock()
        self.calls, self.expected, self.first = 0, expected, None
        self.done = threading.Event()

    def hit(self, *args):
        with self.lock:
            self.calls += 1
            if self.first is None:
                self.first = time.perf_counter()
            if self.calls >= self.expected:
                self.done.set()

    def wait(self, what):
        if not self.done.wait(WAIT_TIMEOUT):
            raise RuntimeError('%s ran only %d of %d jobs in %d s' % (
                what, self.calls, self.expected, WAIT_TIMEOUT))


COUNTER = Counter()


def register_tasks():
    testing.register_task('count', SimpleTask(COUNTER.hit))
    for size in GROUP_SIZES:
        testing.register_task('count%d' % size,
                              SimpleTask(COUNTER.hit, groupSize=size))


# -- Huey -----------------------------------------------------------------

def measure_huey(workdir, jobs):
    """Huey's SqliteHuey, one thread worker, its defaults: jobs/s, CPU ms
    per job, the seconds from start() to the first task, the pragmas."""
    import huey
    directory = tempfile.mkdtemp(dir=workdir)
    queue = huey.SqliteHuey('bench', filename=os.path.join(directory,
                                                           'huey.db'))
    try:
        task = queue.task()(COUNTER.hit)
        clock = Clock()
        for _ in range(jobs):
            task()
        enqueue = jobs / clock.read()[0]
        pragmas = {name: queue.storage.conn.execute(
            'pragma %s' % name).fetchone()[0]
            for name in ('journal_mode', 'synchronous')}
        COUNTER.reset(jobs)
        consumer = queue.create_consumer(workers=1, worker_type='thread')
        handlers = {number: signal.getsignal(number)
                    for number in consumer._signal_actions}
        try:
            clock = Clock()
            consumer.start()
            COUNTER.wait('the Huey consumer')
            wall, cpu = clock.read()
            first = COUNTER.first - clock.wall
        finally:
            consumer.stop(graceful=True)
            for number, handler in handlers.items():  # start() set them
                signal.signal(number, handler)
        assert len(queue) == 0, len(queue)
        return {'rate': jobs / wall, 'cpu_ms': cpu / jobs * 1e3,
                'first_task_s': first, 'enqueue_rate': enqueue,
                'pragmas': pragmas}
    finally:
        queue.storage.close()
        shutil.rmtree(directory, ignore_errors=True)


# -- zodbtasks -------------------------------------------------------------

def measure_service(workdir, jobs, task, thread=False, profile=None):
    """N jobs of ``task``: added (untimed), then run by one process() call
    or by one processor thread; jobs/s, CPU ms per job, Data.fs bytes per
    job of the run and of the adds."""
    with fresh_service(workdir) as (service, path):
        size = os.path.getsize(path)
        add_jobs(service, jobs, ADD_BATCH, task=task)
        added, size = os.path.getsize(path) - size, os.path.getsize(path)
        COUNTER.reset(jobs)
        tm, clock = service._p_jar.transaction_manager, Clock()
        if thread:
            service.startProcessing()
            COUNTER.wait('the processor thread')
            while True:  # the last group's commit follows its task calls
                tm.begin()
                if service.countByStatus()['completed'] >= jobs:
                    break
                time.sleep(0.001)
            wall, cpu = clock.read()
            service.stopProcessing()
        else:
            if profile is not None:
                profile.enable()
            ran = service.process()
            if profile is not None:
                profile.disable()
            wall, cpu = clock.read()
            assert ran == jobs, (ran, jobs)
        assert COUNTER.calls == jobs, (COUNTER.calls, jobs)
        return {'rate': jobs / wall, 'cpu_ms': cpu / jobs * 1e3,
                'run_bytes': (os.path.getsize(path) - size) / jobs,
                'add_bytes': added / jobs}


def measure(workdir, repeat, jobs):
    """Every figure, ``repeat`` interleaved rounds; per key its runs."""
    runs = {key: [] for key in ('raw', 'huey') + tuple(
        key for key, _, _ in ZODBTASKS)}
    for number in range(repeat):
        rate, cpu = measure_raw(workdir)
        runs['raw'].append({'rate': rate, 'cpu_ms': cpu})
        runs['huey'].append(measure_huey(workdir, jobs))
        for key, _, task in ZODBTASKS:
            runs[key].append(measure_service(
                workdir, jobs, task, thread=key.startswith('thread')))
        print('round %d/%d: %s' % (number + 1, repeat, ', '.join(
            '%s %.0f' % (key, values[-1]['rate'])
            for key, values in runs.items())), flush=True)
    return runs


def summarize(runs):
    """Medians of every number per key, and the ratios."""
    figures = {}
    for key, values in runs.items():
        row = {'runs': [value['rate'] for value in values]}
        for name in values[0]:
            if isinstance(values[0][name], (int, float)):
                row[name] = statistics.median(value[name]
                                              for value in values)
        if 'pragmas' in values[0]:
            row['pragmas'] = values[0]['pragmas']
        figures[key] = row
    raw, huey = figures['raw']['rate'], figures['huey']['rate']
    ungrouped = figures['ungrouped']['rate']
    figures['grouped100']['ratio_huey_rounds'] = [
        grouped / huey for grouped, huey in zip(figures['grouped100']['runs'],
                                                figures['huey']['runs'])]
    for row in figures.values():
        row['ratio_raw'] = row['rate'] / raw
        row['ratio_huey'] = row['rate'] / huey
        row['ratio_ungrouped'] = row['rate'] / ungrouped
    return figures


def profile_grouped(workdir, jobs, top=15):
    """cProfile of one grouped(100) process(): the top entries by
    cumulative time, as text."""
    profile = cProfile.Profile()
    measure_service(workdir, jobs, 'count100', profile=profile)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs() \
        .sort_stats('cumulative').print_stats(top)
    return out.getvalue()


# -- report ---------------------------------------------------------------

def target(name, value, limit, passed):
    return {'name': name, 'value': value, 'limit': limit, 'passed': passed}


def check_targets(figures):
    ratio = figures['grouped100']['ratio_huey']
    size = figures['grouped100']['run_bytes']
    return [target('grouped (100) process() jobs/s / Huey SqliteHuey jobs/s',
                   ratio, '>= %s' % MIN_HUEY_RATIO, ratio >= MIN_HUEY_RATIO),
            target('Data.fs bytes per grouped (100) job', size,
                   '<= %d' % MAX_GROUPED_BYTES, size <= MAX_GROUPED_BYTES)]


def markdown(figures, jobs):
    pragmas = figures['huey']['pragmas']
    lines = ['| figure, %s no-op jobs | jobs/s | ratio to raw | ÷ Huey '
             '| ÷ ungrouped | CPU ms/job | Data.fs bytes/job (run) '
             '| bytes/job (add) |' % format(jobs, ','),
             '|---|---:|---:|---:|---:|---:|---:|---:|']
    rows = [('raw', 'raw FileStorage tiny commits (commits/s)'),
            ('huey', 'Huey SqliteHuey, 1 thread worker (%s, synchronous=%s)'
             % (pragmas['journal_mode'], pragmas['synchronous']))]
    rows += [(key, label) for key, label, _ in ZODBTASKS]
    for key, label in rows:
        row = figures[key]
        bytes_ = ('%.0f | %.0f' % (row['run_bytes'], row['add_bytes'])
                  if 'run_bytes' in row else ' | ')
        lines.append('| %s | %.0f | %.2f | %.2f | %s | %.3f | %s |' % (
            label, row['rate'], row['ratio_raw'], row['ratio_huey'],
            '%.2f' % row['ratio_ungrouped'] if 'run_bytes' in row else '',
            row['cpu_ms'], bytes_))
    return '\n'.join(lines)


def report(figures, output):
    meta = figures['meta']
    print('\n%s\n' % markdown(figures, meta['jobs']))
    huey = figures['huey']
    print('Huey: journal_mode=%s, synchronous=%s (0 OFF, 1 NORMAL, 2 FULL, '
          '3 EXTRA); enqueue %.0f tasks/s (untimed); first task %.1f ms '
          'after consumer.start() (in the time)' % (
              huey['pragmas']['journal_mode'], huey['pragmas']['synchronous'],
              huey['enqueue_rate'], huey['first_task_s'] * 1e3))
    print('per round (jobs/s): %s' % '; '.join(
        '%s %s' % (key, '/'.join('%.0f' % rate for rate in row['runs']))
        for key, row in figures.items() if isinstance(row, dict)
        and 'runs' in row))
    print('grouped (100) / Huey, round by round: %s' % ' / '.join(
        '%.2f' % ratio
        for ratio in figures['grouped100']['ratio_huey_rounds']))
    print('speed-up over ungrouped process(): groupSize=100 %.2fx, '
          'groupSize=1000 %.2fx, thread (100) %.2fx' % tuple(
              figures[key]['ratio_ungrouped']
              for key in ('grouped100', 'grouped1000', 'thread100')))
    print_meta(meta)
    if figures.get('profile'):
        print('\ncProfile of one grouped (100) process():\n%s'
              % figures['profile'])
    finish_report(figures, output)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=3,
                        help='interleaved rounds (median; default 3)')
    parser.add_argument('--jobs', type=int, default=10000,
                        help='jobs per run (default 10,000)')
    parser.add_argument('--profile', action='store_true',
                        help='also print a cProfile of one grouped (100) '
                        'process(), the top 15 by cumulative time')
    args = parser.parse_args(argv)
    try:
        import huey
    except ImportError:
        print('huey is not installed: .venv/bin/python -m pip install -r '
              'bench/requirements.txt (or make bench-grouping)')
        return 0
    register_tasks()
    started = datetime.datetime.now(datetime.timezone.utc)
    figures = {'meta': dict(
        git_state(), date=started.isoformat(timespec='seconds'),
        python=sys.version.split()[0], platform=platform.platform(),
        cpus=os.cpu_count(), loadavg_start=os.getloadavg(),
        repeat=args.repeat, jobs=args.jobs, huey=huey.__version__)}
    workdir = tempfile.mkdtemp(prefix='zodbtasks-bench-')
    try:
        figures.update(summarize(measure(workdir, args.repeat, args.jobs)))
        if args.profile:
            figures['profile'] = profile_grouped(workdir, args.jobs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures['meta'].update(loadavg_end=os.getloadavg(), seconds=(
        datetime.datetime.now(datetime.timezone.utc) - started).seconds)
    figures['targets'] = check_targets(figures)
    report(figures, os.path.join(RESULTS_DIR, 'grouping-%s.json'
                                 % started.strftime('%Y%m%dT%H%M%SZ')))
    return 0  # a report: the targets' results are printed and in the JSON


if __name__ == '__main__':
    sys.exit(main())
