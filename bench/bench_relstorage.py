"""RelStorage benchmark of zodbtasks: worker processes on a history-free
RelStorage over a PostgreSQL cluster of its own.

Run: ``.venv/bin/python bench/bench_relstorage.py [--repeat N] [--jobs N]
[--io-jobs N] [--no-fsync]`` (``make bench-relstorage``).  It is a
report, not a test: it prints the figures, a Markdown table and a
PASS/FAIL line per target, writes every figure to
``bench/results/relstorage-<timestamp>.json`` and exits 0.

Everything runs on this machine: a PostgreSQL cluster made with
``initdb`` in a temporary folder and started with ``pg_ctl`` on a free
127.0.0.1 port (``tests/relstorage_pg/cluster.py``, as the RelStorage
tests make theirs; as root it runs as the ``postgres`` user), stopped and
removed at the end.  It keeps PostgreSQL's durable defaults (``fsync``,
``synchronous_commit`` and ``full_page_writes`` on, as FileStorage under
ZEO fsyncs each commit); ``--no-fsync`` uses the tests' settings.  Every
process opens the database through the same ``<relstorage>`` section,
with the settings of docs/deployment.rst: ``keep-history false``,
``cache-local-mb 100``, ``commit-lock-timeout 30``, and no
``poll-interval`` (RelStorage 4 polls at every transaction start); the
services keep the default ``pollInterval`` (1 s).

1. raw RelStorage rate: tiny commits per second from this process (one
   small persistent object per commit, ``bench_zeo.Bench.raw_rate``),
   the bound of one commit per job.
2. throughput with 1, 2 and 4 worker processes of 1 thread each, on a
   service of their own (``bench_zeo.Workers`` and
   ``Bench.throughput``): N jobs are committed in one transaction while
   the workers are idle, and the clock runs from that commit until this
   process sees ``countByStatus()`` count them all completed (polling
   every 10 ms).  For no-op jobs, and for jobs that sleep 20 ms (waiting
   on I/O).  The workers see no commit of another process: they find
   the jobs at their next poll, within the 1 s ``pollInterval``, and the
   clock includes that wait, as it would for jobs added by a web process.
   The wait (from the commit to the first job's ``started``) and the rate
   from the first start on are given next to it.
3. ConflictErrors per job: the workers are ``zodbtasks-worker`` run by
   ``bench/counted_worker.py``, which writes a line to the worker's log
   for each ConflictError a commit raised (claims, runs, folds, sweeps
   and heartbeats; each is retried); the lines written during a run are
   divided by its jobs.  The logs are also read for claim transactions
   that gave up after ``runner.CLAIM_ATTEMPTS`` conflicts ("claims
   conflicted"; the processor tries again soon), and as bench_zeo does,
   for ticks that failed otherwise ("tick failed") and jobs that gave up
   ("gave up after").

Rates are medians of ``--repeat`` runs (each run measures the raw rate
first).  The targets: more worker processes are never slower than one
(each kind of job, 2 and 4 processes against 1), and 4 processes run
no-op jobs at least at the raw single-client RelStorage commit rate.
"""
import argparse
import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

import ZODB.config

from zodbtasks import testing

from bench_core import finish_report
from bench_core import git_state
from bench_core import print_meta
from bench_core import target
from bench_zeo import GIVE_UPS
from bench_zeo import PROCESSES
from bench_zeo import TASKS
from bench_zeo import Workers
from bench_zeo import add_run_options
from bench_zeo import bench_on
from bench_zeo import make_database_instance
from bench_zeo import throughputs
import counted_worker

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, 'results')
sys.path.insert(0, os.path.join(REPO_ROOT, 'tests'))
from relstorage_pg import cluster  # noqa: E402  (tests/ is not a package)

#: PostgreSQL's defaults (durable), room for the workers' connections.
DURABLE = ['max_connections=200']
#: The settings of the RelStorage tests' clusters (nothing durable).
NO_FSYNC = cluster.SETTINGS
#: The ``<relstorage>`` settings of docs/deployment.rst (but the DSN).
RELSTORAGE = {'cache_local_mb': 100, 'commit_lock_timeout': 30}
#: Worker processes run by counted_worker (bench/ is on their PYTHONPATH).
COMMAND = [sys.executable, '-m', 'counted_worker']
#: What the workers' logs are read for: (key, pattern).
PATTERNS = (('conflicts', counted_worker.MARK),
            ('claims_conflicted', 'claims conflicted')) + GIVE_UPS
KINDS = ('noop', 'io')

MIN_SPEEDUP = 1.0         # N processes / 1 process, every N and kind
MIN_RAW_RATIO = 1.0       # 4 processes, no-op jobs / raw commits


def measure(config, bench, repeat, jobs, io_jobs):
    figures = {'raw': [], 'noop': {}, 'io': {}}
    for key in [key for key, _ in PATTERNS] + ['first_start_s',
                                                'from_first_start']:
        figures[key] = {kind: {} for kind in KINDS}
    for run in range(repeat):
        raw = bench.raw_rate()
        figures['raw'].append(raw)
        print('raw RelStorage: %.0f commits/s' % raw, flush=True)
        for count in PROCESSES:
            name = 'p%d_%d' % (count, run)
            service = bench.new_service(name)
            workers = Workers(config, name, count, command=COMMAND)
            try:
                throughputs(bench, service, workers, count, figures,
                            (('noop', 'bench-noop', jobs),
                             ('io', 'bench-io', io_jobs)),
                            patterns=PATTERNS, raw=raw,
                            after=first_start(bench, service, count,
                                              figures))
            finally:
                workers.stop()
    return figures


def first_start(bench, service, count, figures):
    """A callback for ``throughputs``: how long after the commit the first
    job of the run started (the workers' poll), and the rate from then,
    to ``figures['first_start_s' / 'from_first_start'][kind][count]``."""
    def after(kind, task, number, rate):
        bench.tm.abort()
        bench.tm.begin()
        _, [first] = service.queryJobs(task=task, sortOn='started',
                                       reverse=False, size=1)
        wait = first.started - bench.committed
        since = number / (number / rate - wait)
        for key, value in (('first_start_s', wait),
                           ('from_first_start', since)):
            figures[key][kind].setdefault(str(count), []).append(value)
        print('  first job started %.2f s after the commit; %.1f jobs/s '
              'from then' % (wait, since), flush=True)
    return after


def summarize(figures, jobs, io_jobs):
    raw = statistics.median(figures['raw'])
    summary = {'raw_commits_per_s': raw, 'rows': []}
    for kind, number in (('noop', jobs), ('io', io_jobs)):
        one = statistics.median(figures[kind]['1'])
        for count in PROCESSES:
            key = str(count)
            rate = statistics.median(figures[kind][key])
            row = {'jobs': kind, 'processes': count, 'jobs_per_s': rate,
                   'ratio_to_raw': rate / raw, 'speedup': rate / one}
            for name, _ in PATTERNS:
                row[name] = sum(figures[name][kind][key])
            for name in ('first_start_s', 'from_first_start'):
                row[name] = statistics.median(figures[name][kind][key])
            row['conflicts_per_job'] = row['conflicts'] / (
                number * len(figures[kind][key]))
            summary['rows'].append(row)
    summary['targets'] = check_targets(summary)
    return summary


def check_targets(summary):
    targets = []
    for row in summary['rows']:
        if row['processes'] > 1:
            targets.append(target(
                '%d processes / 1 process, %s jobs' % (
                    row['processes'], label(row['jobs'])), row['speedup'],
                '>= %.1f' % MIN_SPEEDUP, row['speedup'] >= MIN_SPEEDUP))
    [four] = [row for row in summary['rows']
              if row['jobs'] == 'noop' and row['processes'] == 4]
    targets.append(target(
        '4 processes, no-op jobs / raw RelStorage commits',
        four['ratio_to_raw'], '>= %.1f' % MIN_RAW_RATIO,
        four['ratio_to_raw'] >= MIN_RAW_RATIO))
    return targets


def label(kind):
    return 'no-op' if kind == 'noop' else '20 ms sleep'


def markdown(summary):
    lines = ['| jobs | processes | jobs/s | ratio to raw RelStorage | '
             'speed-up | first start (s) | jobs/s from it | ConflictErrors '
             '| per job | claims given up (conflicts) | ticks failed | '
             'jobs given up |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
             '| raw RelStorage tiny commits | | %.0f commits/s | 1.00 | | | '
             '| | | | | |' % summary['raw_commits_per_s']]
    for row in summary['rows']:
        lines.append('| %s | %d | %.1f | %.2f | %.2f | %.2f | %.1f | %d | '
                     '%.3f | %d | %d | %d |' % (
                         label(row['jobs']), row['processes'],
                         row['jobs_per_s'], row['ratio_to_raw'],
                         row['speedup'], row['first_start_s'],
                         row['from_first_start'], row['conflicts'],
                         row['conflicts_per_job'], row['claims_conflicted'],
                         row['claim_give_ups'], row['job_give_ups']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser)
    parser.add_argument('--no-fsync', action='store_true',
                        help="PostgreSQL with the tests' settings (fsync, "
                             'full_page_writes off)')
    args = parser.parse_args(argv)
    reason = cluster.missing()
    if reason:
        print('bench_relstorage: %s' % reason, file=sys.stderr)
        return 1
    for name, task in TASKS.items():
        testing.register_task(name, task)
    settings = NO_FSYNC if args.no_fsync else DURABLE
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = dict(
        git_state(), date=started.isoformat(timespec='seconds'),
        python=sys.version.split()[0], platform=platform.platform(),
        cpus=os.cpu_count(), loadavg_start=os.getloadavg(),
        repeat=args.repeat, jobs=args.jobs, io_jobs=args.io_jobs,
        postgresql_settings=settings, relstorage=dict(
            RELSTORAGE, keep_history=False))
    folder = tempfile.mkdtemp(prefix='zodbtasks-bench-relstorage-')
    server = cluster.Cluster(settings)
    try:
        server.initdb()
        server.start()
        meta['postgresql'] = subprocess.run(
            [cluster.find_program('postgres'), '--version'],
            capture_output=True, text=True).stdout.strip()
        dsn = server.dsn(server.create_database())
        config = make_database_instance(
            folder, cluster.relstorage_section(dsn, **RELSTORAGE),
            imports=['relstorage'])
        db = ZODB.config.databaseFromString(
            cluster.relstorage_config(dsn, **RELSTORAGE))
        with bench_on(db) as bench:
            figures = measure(config, bench, args.repeat, args.jobs,
                              args.io_jobs)
    finally:
        server.remove()
        shutil.rmtree(folder, ignore_errors=True)
    meta.update(loadavg_end=os.getloadavg(), seconds=(
        datetime.datetime.now(datetime.timezone.utc) - started).seconds)
    summary = summarize(figures, args.jobs, args.io_jobs)
    print('\n%s\n' % markdown(summary))
    print('%s (%s); RelStorage %s' % (
        meta['postgresql'], ', '.join(settings), ', '.join(
            '%s %s' % (key.replace('_', '-'), value)
            for key, value in sorted(meta['relstorage'].items()))))
    print_meta(meta)
    finish_report({'meta': meta, 'figures': figures, 'summary': summary,
                   'targets': summary['targets']},
                  os.path.join(RESULTS_DIR, 'relstorage-%s.json'
                               % started.strftime('%Y%m%dT%H%M%SZ')))
    return 0  # a report: the targets' results are printed and in the JSON


if __name__ == '__main__':
    sys.exit(main())
