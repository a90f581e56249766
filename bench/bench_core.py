"""Core benchmark of zodbtasks: what one job costs on a real FileStorage.

Run: ``.venv/bin/python bench/bench_core.py [--huge] [--repeat N] [--jobs N]``
(``make bench``).  It is a report, not a test: it prints the figures and a
PASS/FAIL line per target, writes every figure to
``bench/results/core-<timestamp>.json`` and exits 0.

Every job is a no-op, so what is measured is the service's own cost.  On
FileStorage one commit per job bounds it, so the reference is measured in
the same run: tiny commits per second on a fresh FileStorage.  Throughputs
are also given as ratios to it: those compare across machines (ANCHORS.md).

1. raw FileStorage rate: commits/s, one small persistent object per commit.
2. ``process()`` throughput: N queued jobs run by one ``process()`` call.
3. thread throughput: N queued jobs run by the processor thread, from
   ``startProcessing()`` until a fresh transaction sees them all completed.
4. enqueue->start latency, thread running (woken by an after-commit hook).
5. backlog flatness at 100 / 10,000 / 100,000 (/ 1,000,000) waiting jobs:
   ms and Data.fs bytes per job at a steady backlog, and Data.fs bytes per
   transaction that only puts to / pulls from the queue, next to a tiny
   reference transaction (the transaction header overhead).  A queue that
   rewrites its content (zc.queue) fails these as the backlog grows.

Rates and per-job times are medians of ``--repeat`` runs, interleaved so
that drifts of a shared machine hit all figures alike; CPU times tell CPU
cost from fsync waits.  All on FileStorages in a temporary folder.
"""
import argparse
import contextlib
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import zope.interface
from persistent.mapping import PersistentMapping

from zodbtasks import testing
from zodbtasks.interfaces import ITask
from zodbtasks import runner
from zodbtasks.transactions import own_connection

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(HERE, 'results')

RAW_COMMITS = 2000
ADD_BATCH = 1000          # jobs per commit when queueing N jobs
FILL_BATCH = 10000        # jobs per commit when filling a backlog
BACKLOGS = (100, 10000, 100000)
HUGE_BACKLOG = 1000000
BACKLOG_JOBS = 500        # jobs run per backlog measurement
STEADY_CHUNK = runner.CLAIM_BATCH  # jobs per drain() between top-ups
QUEUE_TXNS = 200
LATENCY_JOBS = 200
WAIT_TIMEOUT = 120.0

MIN_PROCESS_RATIO = 0.5
MAX_FLATNESS = 1.5
#: Issue 10 (scale): process() and the processor thread against raw
#: commits, and the per-job cost at 1,000,000 waiting against 100.
SCALE_PROCESS_RATIO = 0.8
SCALE_THREAD_RATIO = 0.7
MAX_HUGE_FLATNESS = 1.3
MAX_QUEUE_OP_BYTES = 2048


@zope.interface.implementer(ITask)
class Recorder:
    """A no-op task that records when each job started and sets ``done``
    once ``expected`` distinct jobs ran (at every job when 0)."""

    def __init__(self):
        self.reset()

    def reset(self, expected=0):
        self.expected = expected
        self.started = {}
        self.done = threading.Event()

    def __call__(self, service, jobid, input):
        self.started.setdefault(jobid, time.perf_counter())
        if len(self.started) >= self.expected:
            self.done.set()


RECORDER = Recorder()


def register_tasks():
    """The no-op tasks, in the global registry."""
    testing.register_task('noop', lambda input: None)
    testing.register_task('recorder', RECORDER)


class Clock:
    """Wall and CPU seconds since it was made."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def read(self):
        return (time.perf_counter() - self.wall,
                time.process_time() - self.cpu)


# -- fixtures -----------------------------------------------------------------

@contextlib.contextmanager
def fresh_database(workdir):
    """A connection to a database on a new FileStorage, with a transaction
    manager of its own, and the Data.fs path; all removed on exit."""
    directory = tempfile.mkdtemp(dir=workdir)
    db = testing.create_database(directory)
    try:
        with own_connection(db) as (connection, _):
            yield connection, os.path.join(directory, 'Data.fs')
    finally:
        testing.close_database(db)  # stops (and joins) processor threads
        shutil.rmtree(directory)


@contextlib.contextmanager
def fresh_service(workdir):
    """A TaskService in a site of a fresh database, and the Data.fs path."""
    with fresh_database(workdir) as (connection, path):
        site = testing.add_site(testing.setup_root(connection), 'bench')
        service = testing.add_service(site)
        connection.transaction_manager.commit()
        yield service, path


def add_jobs(service, count, batch, task='noop'):
    """Queue ``count`` jobs, committing every ``batch``; return seconds."""
    tm, start = service._p_jar.transaction_manager, time.perf_counter()
    for number in range(1, count + 1):
        service.add(task)
        if number % batch == 0:
            tm.commit()
    tm.commit()
    return time.perf_counter() - start


def tiny_counter(connection):
    """A committed PersistentMapping {'n': 0} in the root: one tiny object."""
    connection.root()['counter'] = counter = PersistentMapping(n=0)
    connection.transaction_manager.commit()
    return counter


# -- measurements -------------------------------------------------------------

def measure_raw(workdir):
    """Tiny commits per second, and CPU ms per commit."""
    with fresh_database(workdir) as (connection, path):
        counter, tm = tiny_counter(connection), connection.transaction_manager
        clock = Clock()
        for _ in range(RAW_COMMITS):
            counter['n'] += 1
            tm.commit()
        wall, cpu = clock.read()
        return RAW_COMMITS / wall, cpu / RAW_COMMITS * 1e3


def measure_process(workdir, jobs):
    """Jobs per second of one ``process()`` over ``jobs`` queued jobs, and
    CPU ms per job."""
    with fresh_service(workdir) as (service, path):
        add_jobs(service, jobs, ADD_BATCH)
        clock = Clock()
        ran = service.process()
        wall, cpu = clock.read()
        assert ran == jobs, (ran, jobs)
        return jobs / wall, cpu / jobs * 1e3


def measure_thread(workdir, jobs):
    """Jobs per second of the processor thread, from startProcessing() until
    a fresh transaction sees every job completed."""
    with fresh_service(workdir) as (service, path):
        add_jobs(service, jobs, ADD_BATCH, task='recorder')
        RECORDER.reset(expected=jobs)
        tm, clock = service._p_jar.transaction_manager, Clock()
        service.startProcessing()
        if not RECORDER.done.wait(WAIT_TIMEOUT):
            raise RuntimeError('the processor ran only %d of %d jobs'
                               % (len(RECORDER.started), jobs))
        while True:  # the last job's commit follows its task
            tm.begin()
            if service.countByStatus()['completed'] >= jobs:
                break
            time.sleep(0.001)
        wall, cpu = clock.read()
        return jobs / wall, cpu / jobs * 1e3


def measure_latency(workdir):
    """Enqueue->start latencies (ms), one job at a time, thread running."""
    with fresh_service(workdir) as (service, path):
        service.startProcessing()
        tm, latencies, retries = service._p_jar.transaction_manager, [], 0
        for number in range(LATENCY_JOBS + 1):  # the first one warms up
            RECORDER.reset()
            for tries, attempt in enumerate(tm.attempts()):
                with attempt:
                    jobid = service.add('recorder')
            committed = time.perf_counter()
            retries += tries
            if not RECORDER.done.wait(10):
                raise RuntimeError('job %s did not start' % jobid)
            if number:
                latencies.append((RECORDER.started[jobid] - committed) * 1e3)
        return {'jobs': LATENCY_JOBS, 'p50_ms': statistics.median(latencies),
                'p95_ms': percentile(latencies, 95),
                'max_ms': max(latencies), 'conflict_retries': retries}


def percentile(values, percent):
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * percent // 100) - 1)]


def run_at_steady_backlog(service, path, jobs=BACKLOG_JOBS):
    """Run ``jobs`` jobs with drain() STEADY_CHUNK at a time, topping the
    queue back up (untimed) after each chunk so that the backlog stays
    where it was; return wall ms, CPU ms and Data.fs bytes per job, of the
    drains only."""
    wall = cpu = written = 0
    for _ in range(jobs // STEADY_CHUNK):
        size, clock = os.path.getsize(path), Clock()
        ran = runner.drain(service, limit=STEADY_CHUNK)
        wall, cpu = [a + b for a, b in zip((wall, cpu), clock.read())]
        written += os.path.getsize(path) - size
        assert ran == STEADY_CHUNK, ran
        add_jobs(service, STEADY_CHUNK, STEADY_CHUNK)
    return wall / jobs * 1e3, cpu / jobs * 1e3, written / jobs


def growth_per_transaction(path, tm, change, count=QUEUE_TXNS):
    """Data.fs growth of ``count`` transactions each doing ``change(i)``."""
    sizes = []
    for number in range(count):
        size = os.path.getsize(path)
        change(number)
        tm.commit()
        sizes.append(os.path.getsize(path) - size)
    return {'avg': statistics.mean(sizes), 'max': max(sizes)}


def measure_queue_bytes(service, path):
    """Data.fs bytes per reference, queue put and queue pull transaction."""
    tm, queue = service._p_jar.transaction_manager, service._queue
    counter = tiny_counter(service._p_jar)

    def touch(number):
        counter['n'] += 1

    return {'reference_txn_bytes': growth_per_transaction(path, tm, touch),
            'put_txn_bytes': growth_per_transaction(path, tm, queue.put),
            'pull_txn_bytes': growth_per_transaction(
                path, tm, lambda number: queue.pull())}


def measure_backlogs(workdir, sizes, repeat):
    """Per backlog size: fill rate; wall ms, CPU ms and bytes per job
    (medians of ``repeat`` runs, interleaved across the sizes); bytes per
    queue operation."""
    with contextlib.ExitStack() as stack:
        services, rows = [], []
        for size in sizes:
            service, path = stack.enter_context(fresh_service(workdir))
            services.append((service, path))
            rows.append({'backlog': size, 'fill_jobs_per_s':
                         size / add_jobs(service, size, FILL_BATCH)})
        runs = [[] for _ in sizes]
        for _ in range(repeat):
            for index, (service, path) in enumerate(services):
                runs[index].append(run_at_steady_backlog(service, path))
        for row, (service, path), results in zip(rows, services, runs):
            for name, values in zip(('ms_per_job', 'cpu_ms_per_job',
                                     'bytes_per_job'), zip(*results)):
                row[name] = statistics.median(values)
            row.update(measure_queue_bytes(service, path))
            row['data_fs_mb'] = os.path.getsize(path) / 2 ** 20
            print('backlog %s: %.3f ms/job, %.0f bytes/job' % (
                format(row['backlog'], ','), row['ms_per_job'],
                row['bytes_per_job']), flush=True)
        return rows


def measure_rates(workdir, repeat, jobs):
    """Raw, process() and thread rates: runs, medians, ratios to raw."""
    runs = {'raw': [], 'process': [], 'thread': []}
    for number in range(repeat):  # interleaved: drifts hit all alike
        runs['raw'].append(measure_raw(workdir))
        runs['process'].append(measure_process(workdir, jobs))
        runs['thread'].append(measure_thread(workdir, jobs))
        print('run %d/%d: raw %.0f commits/s, process() %.0f jobs/s, '
              'thread %.0f jobs/s' % (number + 1, repeat,
                                      *(runs[k][-1][0] for k in runs)),
              flush=True)
    figures = {key: {'runs': [rate for rate, _ in values],
                     'median': statistics.median(rate for rate, _ in values),
                     'cpu_ms': statistics.median(cpu for _, cpu in values)}
               for key, values in runs.items()}
    for row in figures.values():
        row['ratio'] = row['median'] / figures['raw']['median']
    return figures


# -- report -------------------------------------------------------------------

def target(name, value, limit, passed):
    return {'name': name, 'value': value, 'limit': limit, 'passed': passed}


def check_targets(figures):
    """The targets as dicts: name, value, limit, passed."""
    ratio = figures['process']['ratio']
    targets = [target('process() throughput / raw FileStorage rate', ratio,
                      '>= %s' % MIN_PROCESS_RATIO, ratio >= MIN_PROCESS_RATIO)]
    thread = figures['thread']['ratio']
    targets += [
        target('process() / raw FileStorage rate (issue 10)', ratio,
               '>= %s' % SCALE_PROCESS_RATIO, ratio >= SCALE_PROCESS_RATIO),
        target('processor thread / raw FileStorage rate (issue 10)', thread,
               '>= %s' % SCALE_THREAD_RATIO, thread >= SCALE_THREAD_RATIO)]
    by_size = {row['backlog']: row for row in figures['backlog']}
    flat = by_size[100000]['ms_per_job'] / by_size[100]['ms_per_job']
    targets.append(target('ms/job at 100,000 waiting / ms/job at 100 waiting',
                          flat, '<= %s' % MAX_FLATNESS, flat <= MAX_FLATNESS))
    if HUGE_BACKLOG in by_size:
        huge = by_size[HUGE_BACKLOG]['ms_per_job'] / by_size[100]['ms_per_job']
        targets.append(target(
            'ms/job at 1,000,000 waiting / ms/job at 100 waiting (issue 10)',
            huge, '<= %s' % MAX_HUGE_FLATNESS, huge <= MAX_HUGE_FLATNESS))
    for row in figures['backlog']:
        for operation in ('put', 'pull'):
            value = row['%s_txn_bytes' % operation]['avg']
            targets.append(target(
                'avg bytes per queue %s txn, %s waiting'
                % (operation, format(row['backlog'], ',')), value,
                '<= %d' % MAX_QUEUE_OP_BYTES, value <= MAX_QUEUE_OP_BYTES))
    return targets


def markdown(figures):
    """The figures as two Markdown tables."""
    lines = ['| figure | value | ratio to raw | CPU ms per commit/job |',
             '|---|---:|---:|---:|']
    for key, label in (('raw', 'raw FileStorage tiny commits'),
                       ('process', 'process(), %d jobs'),
                       ('thread', 'processor thread, %d jobs')):
        row = figures[key]
        unit = 'commits/s' if key == 'raw' else 'jobs/s'
        lines.append('| %s | %.0f %s | %.2f | %.3f |' % (
            label.replace('%d', format(figures['meta']['jobs'], ',')),
            row['median'], unit, row['ratio'], row['cpu_ms']))
    lines.append('| enqueue->start latency p50 / p95 | %.2f / %.2f ms | | |'
                 % (figures['latency']['p50_ms'],
                    figures['latency']['p95_ms']))
    lines += ['', '| waiting jobs | fill jobs/s | ms/job | CPU ms/job | '
              'bytes/job | ref txn bytes | put txn bytes avg / max | '
              'pull txn bytes avg / max | Data.fs MB |',
              '|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for row in figures['backlog']:
        put, pull = row['put_txn_bytes'], row['pull_txn_bytes']
        lines.append(
            '| %s | %.0f | %.3f | %.3f | %.0f | %.0f | %.0f / %d | %.0f / %d '
            '| %.1f |' % (format(row['backlog'], ','), row['fill_jobs_per_s'],
                          row['ms_per_job'], row['cpu_ms_per_job'],
                          row['bytes_per_job'],
                          row['reference_txn_bytes']['avg'], put['avg'],
                          put['max'], pull['avg'], pull['max'],
                          row['data_fs_mb']))
    return '\n'.join(lines)


def git_state():
    """The commit measured, and whether src/ differs from it."""
    def git(*args):
        return subprocess.run(('git',) + args, cwd=HERE, capture_output=True,
                              text=True).stdout.strip()
    return {'commit': git('rev-parse', '--short', 'HEAD'), 'src_changed':
            bool(git('status', '--porcelain', '--', HERE + '/../src'))}


def report(figures, output):
    """Print the tables and the targets; write the JSON file."""
    print('\n%s\n' % markdown(figures))
    print_meta(figures['meta'])
    finish_report(figures, output)


def print_meta(meta):
    """The commit measured, the load average and the run time."""
    print('commit %s%s; load average at start %s, at end %s; %d s' % (
        meta['commit'], ' + changes in src/' if meta['src_changed'] else '',
        *('/'.join('%.2f' % v for v in meta[key])
          for key in ('loadavg_start', 'loadavg_end')), meta['seconds']))


def finish_report(figures, output):
    """Print a PASS or FAIL line per target; write the JSON file."""
    for result in figures['targets']:
        print('%s: %s = %.2f (target %s)' % (
            'PASS' if result['passed'] else 'FAIL', result['name'],
            result['value'], result['limit']))
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output, 'w') as stream:
        json.dump(figures, stream, indent=2)
    print('\nfigures written to %s' % os.path.relpath(output))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--huge', action='store_true',
                        help='also measure a backlog of 1,000,000 jobs')
    parser.add_argument('--repeat', type=int, default=3,
                        help='runs per rate figure (median; default 3)')
    parser.add_argument('--jobs', type=int, default=2000,
                        help='jobs per throughput run (default 2,000)')
    args = parser.parse_args(argv)
    register_tasks()
    started = datetime.datetime.now(datetime.timezone.utc)
    figures = {'meta': dict(
        git_state(), date=started.isoformat(timespec='seconds'),
        python=sys.version.split()[0], platform=platform.platform(),
        cpus=os.cpu_count(), loadavg_start=os.getloadavg(),
        repeat=args.repeat, jobs=args.jobs, huge=args.huge)}
    workdir = tempfile.mkdtemp(prefix='zodbtasks-bench-')
    try:
        figures.update(measure_rates(workdir, args.repeat, args.jobs))
        figures['latency'] = measure_latency(workdir)
        print('latency: p50 %(p50_ms).2f ms, p95 %(p95_ms).2f ms'
              % figures['latency'], flush=True)
        figures['backlog'] = measure_backlogs(
            workdir, BACKLOGS + ((HUGE_BACKLOG,) if args.huge else ()),
            args.repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    figures['meta'].update(loadavg_end=os.getloadavg(), seconds=(
        datetime.datetime.now(datetime.timezone.utc) - started).seconds)
    figures['targets'] = check_targets(figures)
    report(figures, os.path.join(RESULTS_DIR, 'core-%s.json'
                                 % started.strftime('%Y%m%dT%H%M%SZ')))
    return 0  # a report: the targets' results are printed and in the JSON


if __name__ == '__main__':
    sys.exit(main())
