"""ZEO benchmark of zodbtasks: worker processes on a real ZEO server.

Run: ``.venv/bin/python bench/bench_zeo.py [--repeat N] [--jobs N]
[--io-jobs N]`` (``make bench-zeo``).  It is a report, not a test: it
prints the figures, a Markdown table and a PASS/FAIL line per target,
writes every figure to ``bench/results/zeo-<timestamp>.json`` and exits 0.

Everything runs on this machine: ``runzeo`` (the venv's) on a free
127.0.0.1 port with its Data.fs in a temporary folder, an instance whose
zope.conf has a ``<zeoclient>`` section, and ``zodbtasks-worker``
processes of that instance (``python -m zodbtasks.app.worker``) that
import this module for their tasks (``bench-tasks.zcml`` in the instance).

1. raw ZEO rate: tiny commits per second from this process (one small
   persistent object per commit), the bound of one commit per job.
2. throughput with 1, 2 and 4 worker processes of 1 thread each, on a
   service of their own: N jobs are committed in one transaction while
   the workers are idle, and the clock runs from the last commit
   until this process sees them all completed (polling every 10 ms).
   For no-op jobs, and for jobs that sleep 20 ms (waiting on I/O).
3. cross-process start latency, one idle worker: a job is committed by
   this process; the task records ``time.time()`` when it starts, in the
   worker; the latency is that minus the time the commit returned here
   (same machine, same clock).  One job at a time, the next once the
   previous completed.

Rates are medians of ``--repeat`` runs.  After each throughput run, the
workers' logs are read for claim transactions that gave up on conflicts
("tick failed") and jobs that gave up ("gave up after").
"""
import argparse
import collections
import contextlib
import datetime
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import ZEO
from persistent.mapping import PersistentMapping

from zodbtasks import testing
from zodbtasks.app import instance
from zodbtasks.interfaces import COMPLETED
from zodbtasks.task import SimpleTask
from zodbtasks.transactions import own_connection

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
RESULTS_DIR = os.path.join(HERE, 'results')
SAMPLE = os.path.join(REPO_ROOT, 'etc', 'zope.conf.sample')
#: runzeo as a module of this Python: the same under a venv and under
#: zc.buildout, where no console script sits next to the interpreter.
RUNZEO = [sys.executable, '-m', 'ZEO.runzeo']

RAW_COMMITS = 1000
PROCESSES = (1, 2, 4)
IO_SECONDS = 0.02
LATENCY_JOBS = 100
POLL = 0.01
DEADLINE = 600.0

MAX_LATENCY_P50_MS = 100.0

TASKS_ZCML = """\
<configure xmlns="http://namespaces.zope.org/zope">
  <utility component="bench_zeo.noop" name="bench-noop"
           provides="zodbtasks.interfaces.ITask" />
  <utility component="bench_zeo.io" name="bench-io"
           provides="zodbtasks.interfaces.ITask" />
  <utility component="bench_zeo.stamp" name="bench-stamp"
           provides="zodbtasks.interfaces.ITask" />
</configure>
"""


# -- the tasks (imported by the workers: keep this module light) --------------

def _io(input):
    time.sleep(IO_SECONDS)


#: Does nothing.
noop = SimpleTask(lambda input: None)
#: Waits 20 ms, as a job waiting on I/O.
io = SimpleTask(_io)
#: Returns when it started (epoch seconds).
stamp = SimpleTask(lambda input: time.time())
TASKS = {'bench-noop': noop, 'bench-io': io, 'bench-stamp': stamp}


# -- the ZEO server, the instance and the workers -----------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_until(predicate, deadline, what):
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError('%s within %ss' % (what, deadline))
        time.sleep(POLL)


def start_zeo(folder):
    """A ``runzeo`` process on a free loopback port, and its address."""
    port = free_port()
    with open(os.path.join(folder, 'zeo.log'), 'w') as log:
        process = subprocess.Popen(
            RUNZEO + ['-a', '127.0.0.1:%d' % port,
             '-f', os.path.join(folder, 'zeo-Data.fs')],
            cwd=folder, stdout=log, stderr=subprocess.STDOUT)

    def listening():
        if process.poll() is not None:
            raise RuntimeError('runzeo ended; see zeo.log')
        try:
            socket.create_connection(('127.0.0.1', port), 0.05).close()
            return True
        except OSError:
            return False
    wait_until(listening, 30, 'runzeo did not listen')
    return process, ('127.0.0.1', port)


def make_instance(folder, address):
    """An instance whose database is the ZEO server at ``address``, that
    autostarts nothing and registers this module's tasks."""
    return make_database_instance(
        folder, '<zodb>\n  <zeoclient>\n    server %s:%d\n  </zeoclient>\n'
        '</zodb>' % address)


def make_database_instance(folder, database, imports=()):
    """An instance whose ``<zodb>`` section is ``database`` (with
    ``%import PACKAGE`` lines for ``imports`` at the top of zope.conf),
    that autostarts nothing and registers this module's tasks."""
    config = os.path.join(folder, 'zope.conf')
    instance.create_instance(config, SAMPLE, {})
    with open(config) as f:
        text = f.read()
    text = re.sub(r'<zodb>\n  <filestorage>\n.*?</zodb>',
                  lambda match: database, text, count=1, flags=re.DOTALL)
    text = ''.join('%%import %s\n' % package for package in imports) + text
    text = re.sub(r'^  autostart .*$', '  autostart', text, count=1,
                  flags=re.MULTILINE)
    with open(config, 'w') as f:
        f.write(text)
    with open(os.path.join(folder, 'bench-tasks.zcml'), 'w') as f:
        f.write(TASKS_ZCML)
    site_zcml = os.path.join(folder, 'site.zcml')
    with open(site_zcml) as f:
        text = f.read()
    with open(site_zcml, 'w') as f:
        f.write(text.replace('<include file="principals.zcml" />',
                             '<include file="bench-tasks.zcml" />\n'
                             '  <include file="principals.zcml" />'))
    return config


#: How the workers are started: ``zodbtasks-worker`` as a module of this
#: Python (the same under a venv and under zc.buildout).
WORKER = [sys.executable, '-m', 'zodbtasks.app.worker']


class Workers:
    """``count`` worker processes of 1 thread on ``bench@NAME``, started
    with ``command`` and the worker's options."""

    def __init__(self, config, name, count, command=WORKER):
        folder = os.path.dirname(config)
        environ = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [HERE] + [p for p in [os.environ.get('PYTHONPATH')] if p]))
        self.logs, self.processes = [], []
        for number in range(count):
            log = os.path.join(folder, '%s-%d.log' % (name, number))
            with open(log, 'w') as output:
                self.processes.append(subprocess.Popen(
                    list(command) + [
                        '--config', config, '--autostart', 'bench@' + name,
                        '--threads', '1'],
                    cwd=folder, stdout=output, stderr=subprocess.STDOUT,
                    env=environ))
            self.logs.append(log)
        for process, log in zip(self.processes, self.logs):
            wait_until(lambda: self._started(process, log), 60,
                       'a worker did not start')

    def _started(self, process, log):
        if process.poll() is not None:
            raise RuntimeError('a worker ended; see ' + log)
        with open(log) as f:
            return ' started: ' in f.read()

    def stop(self):
        for process in self.processes:
            testing.stop_process(process)

    def conflicts(self):
        """The conflicts the stopped workers' processors met (their last
        log lines): (total, {class: count})."""
        total, by_class = 0, collections.Counter()
        for log in self.logs:
            with open(log) as f:
                for match in CONFLICTS.finditer(f.read()):
                    total += int(match.group(1) or 0)
                    for part in (match.group(2) or '').split(', '):
                        if part:
                            name, number = part.rsplit(' ', 1)
                            by_class[name] += int(number)
        return total, dict(by_class)

    def count(self, pattern):
        """How many lines of the workers' logs have ``pattern``."""
        total = 0
        for log in self.logs:
            with open(log) as f:
                total += sum(1 for line in f if pattern in line)
        return total


# -- measurements -------------------------------------------------------------

@contextlib.contextmanager
def open_bench(address):
    """A ``Bench`` on a ZEO client of ``address``, closed at the end."""
    with bench_on(ZEO.DB(address)) as bench:
        yield bench


@contextlib.contextmanager
def bench_on(db):
    """A ``Bench`` on a connection of ``db``; ``db`` is closed at the
    end."""
    try:
        with own_connection(db) as (connection, tm):
            yield Bench(connection, tm)
    finally:
        db.close()


class Bench:
    """This process's ZEO connection, its sites and services."""

    def __init__(self, connection, tm):
        self.connection, self.tm = connection, tm
        root = testing.setup_root(self.connection)
        self.site = testing.add_site(root, 'bench')
        self.tm.commit()

    def new_service(self, name):
        service = testing.add_service(self.site, name)
        self.tm.commit()
        return service

    def raw_rate(self):
        """Tiny commits per second."""
        self.connection.root()['counter'] = counter = PersistentMapping(n=0)
        self.tm.commit()
        start = time.perf_counter()
        for _ in range(RAW_COMMITS):
            counter['n'] += 1
            self.tm.commit()
        return RAW_COMMITS / (time.perf_counter() - start)

    def throughput(self, service, task, jobs):
        """(jobs per second, counts lag) of the running workers over
        ``jobs`` jobs: the clock stops when ``countByStatus()`` shows them
        all completed (what operators see); the lag is how long after the
        last job completed that was (seconds)."""
        self.tm.begin()
        target = service.countByStatus()[COMPLETED] + jobs
        ids = [service.add(task) for _ in range(jobs)]
        self.tm.commit()  # all at once: the workers start together
        start = time.perf_counter()
        self.committed = time.time()  # epoch, as the jobs' started

        def done():
            self.tm.abort()
            self.tm.begin()
            return service.countByStatus()[COMPLETED] >= target
        wait_until(done, DEADLINE, '%d %s jobs did not run' % (jobs, task))
        seen, elapsed = time.time(), time.perf_counter() - start
        last = max(service.jobs[jobid].completed for jobid in ids)
        return jobs / elapsed, max(seen - last, 0.0)

    def latencies(self, service, count):
        """Seconds from commit to start in the worker, per job."""
        found = []
        for _ in range(count + 1):  # the first warms up
            jobid = service.add('bench-stamp')
            self.tm.commit()
            committed = time.time()

            def done():
                self.tm.abort()
                self.tm.begin()
                return service.jobs[jobid].status == COMPLETED
            wait_until(done, 60, 'the latency job did not run')
            found.append(service.jobs[jobid].output - committed)
        return found[1:]


GIVE_UPS = (('claim_give_ups', 'tick failed'),
            ('job_give_ups', 'gave up after'))
#: A processor's last line: "processor NAME stopped; conflicts: N (...)"
#: or "...; no conflicts".
CONFLICTS = re.compile(r'processor \S+ stopped; (?:conflicts: (\d+) '
                       r'\(([^)]*)\)|no conflicts)')


def cpu_seconds(pids):
    """User and system CPU seconds the processes ``pids`` used so far."""
    total = 0
    for pid in pids:
        try:
            with open('/proc/%d/stat' % pid) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf('SC_CLK_TCK')


def measure(config, bench, repeat, jobs, io_jobs, server_pid=None):
    figures = {'raw': [], 'noop': {}, 'io': {}}
    for key in [key for key, _ in GIVE_UPS] + ['conflicts', 'lag_s',
                                              'worker_cpu_ms',
                                              'server_cpu_ms']:
        figures[key] = {'noop': {}, 'io': {}}
    for run in range(repeat):
        figures['raw'].append(bench.raw_rate())
        print('raw ZEO: %.0f commits/s' % figures['raw'][-1], flush=True)
        for count in PROCESSES:
            for kind, task, number in (('noop', 'bench-noop', jobs),
                                       ('io', 'bench-io', io_jobs)):
                # fresh workers per figure: their last lines count the
                # conflicts of this figure only
                name = 'p%d_%s_%d' % (count, kind, run)
                service = bench.new_service(name)
                workers = Workers(config, name, count)
                try:
                    pids = [process.pid for process in workers.processes]
                    before = (cpu_seconds(pids), cpu_seconds(
                        [server_pid] if server_pid else []))
                    rate, lag = bench.throughput(service, task, number)
                    used = (cpu_seconds(pids) - before[0], cpu_seconds(
                        [server_pid] if server_pid else []) - before[1])
                    if count == 1 and kind == 'noop' and run == 0:
                        figures['latency_s'] = bench.latencies(
                            service, LATENCY_JOBS)
                finally:
                    workers.stop()
                key = str(count)
                figures[kind].setdefault(key, []).append(rate)
                figures['lag_s'][kind].setdefault(key, []).append(lag)
                for field, seconds in zip(('worker_cpu_ms', 'server_cpu_ms'),
                                          used):
                    figures[field][kind].setdefault(key, []).append(
                        seconds * 1e3 / number)
                total, by_class = workers.conflicts()
                figures['conflicts'][kind].setdefault(key, []).append(
                    total / number)
                figures.setdefault('conflicts_by_class', {}).setdefault(
                    kind, {}).setdefault(key, []).append(by_class)
                for field, pattern in GIVE_UPS:
                    figures[field][kind].setdefault(key, []).append(
                        workers.count(pattern))
                print('%d processes, %s: %.1f jobs/s, counts lag %.2f s, '
                      'CPU ms per job: workers %.2f, ZEO %.2f; %.3f '
                      'conflicts per job %s' % (
                          count, kind, rate, lag,
                          figures['worker_cpu_ms'][kind][key][-1],
                          figures['server_cpu_ms'][kind][key][-1],
                          figures['conflicts'][kind][key][-1],
                          by_class or ''), flush=True)
    return figures


def throughputs(bench, service, workers, count, figures, kinds,
                patterns=GIVE_UPS, raw=None, after=None):
    """For each ``(kind, task, number)`` of ``kinds``: the rate of
    ``workers`` (``count`` processes) over ``number`` jobs of ``task``,
    appended to ``figures[kind][str(count)]``, and the lines of their
    logs with each ``(key, pattern)`` of ``patterns`` meanwhile, to
    ``figures[key][kind][str(count)]``.  With ``raw`` (commits/s), each
    printed rate is followed by its ratio to it; ``after(kind, task,
    number, rate)`` is called after each printed rate."""
    for kind, task, number in kinds:
        before = [workers.count(pattern) for _, pattern in patterns]
        rate, lag = bench.throughput(service, task, number)
        figures[kind].setdefault(str(count), []).append(rate)
        figures.setdefault('lag_s', {}).setdefault(kind, {}).setdefault(
            str(count), []).append(lag)
        for (key, pattern), then in zip(patterns, before):
            figures[key][kind].setdefault(str(count), []).append(
                workers.count(pattern) - then)
        print('%d processes, %s: %.1f jobs/s%s' % (
            count, kind, rate, '' if raw is None else
            ' (%.2f x raw)' % (rate / raw)), flush=True)
        if after is not None:
            after(kind, task, number, rate)


def summarize(figures):
    raw = statistics.median(figures['raw'])
    summary = {'raw_commits_per_s': raw, 'rows': []}
    for kind in ('noop', 'io'):
        one = statistics.median(figures[kind]['1'])
        for count in PROCESSES:
            key = str(count)
            rate = statistics.median(figures[kind][key])
            summary['rows'].append({
                'jobs': kind, 'processes': count, 'jobs_per_s': rate,
                'ratio_to_raw': rate / raw, 'speedup': rate / one,
                'counts_lag_s': max(figures['lag_s'][kind][key]),
                'conflicts_per_job': statistics.median(
                    figures['conflicts'][kind][key]),
                'worker_cpu_ms': statistics.median(
                    figures['worker_cpu_ms'][kind][key]),
                'server_cpu_ms': statistics.median(
                    figures['server_cpu_ms'][kind][key]),
                'claim_give_ups': sum(figures['claim_give_ups'][kind][key]),
                'job_give_ups': sum(figures['job_give_ups'][kind][key])})
    latencies = sorted(figures['latency_s'])
    summary['latency_ms'] = {
        'p50': statistics.median(latencies) * 1e3,
        'p95': latencies[int(len(latencies) * 0.95) - 1] * 1e3,
        'max': latencies[-1] * 1e3, 'min': latencies[0] * 1e3}
    summary['targets'] = targets(summary)
    return summary


def targets(summary):
    """Issue 10's targets for worker processes over ZEO."""
    rows = {(row['jobs'], row['processes']): row for row in summary['rows']}
    found = []

    def target(name, value, limit, passed):
        found.append({'name': name, 'value': value, 'limit': limit,
                      'passed': passed})
    for count in PROCESSES[1:]:
        value = rows['noop', count]['speedup']
        target('%d processes / 1 process, no-op jobs' % count, value,
               '>= 1.0', value >= 1.0)
    value = rows['noop', 1]['ratio_to_raw']
    target('1 process / raw ZEO commits, no-op jobs', value, '>= 0.7',
           value >= 0.7)
    value = rows['noop', 4]['ratio_to_raw']
    target('4 processes / raw ZEO commits, no-op jobs', value, '>= 0.8',
           value >= 0.8)
    for count in PROCESSES[1:]:
        value = rows['io', count]['speedup']
        target('%d processes / 1 process, 20 ms jobs' % count, value,
               '>= %.1f' % (0.9 * count), value >= 0.9 * count)
    value = max(row['counts_lag_s'] for row in summary['rows'])
    target('countByStatus() lag behind the last completed job (s)', value,
           '<= 1.0', value <= 1.0)
    value = summary['latency_ms']['p50']
    target('cross-process start latency p50 (ms)', value,
           '< %.0f' % MAX_LATENCY_P50_MS, value < MAX_LATENCY_P50_MS)
    return found


def markdown(summary):
    lines = ['| jobs | processes | jobs/s | ratio to raw ZEO | speed-up | '
             'counts lag (s) | CPU ms/job workers | CPU ms/job ZEO | '
             'conflicts per job | claims given up | jobs given up |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
             '| raw ZEO tiny commits | | %.0f commits/s | 1.00 | | | | | | '
             '| |' % summary['raw_commits_per_s']]
    for row in summary['rows']:
        lines.append('| %s | %d | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f | '
                     '%.3f | %d | %d |' % (
                         'no-op' if row['jobs'] == 'noop' else '20 ms sleep',
                         row['processes'], row['jobs_per_s'],
                         row['ratio_to_raw'], row['speedup'],
                         row['counts_lag_s'], row['worker_cpu_ms'],
                         row['server_cpu_ms'], row['conflicts_per_job'],
                         row['claim_give_ups'], row['job_give_ups']))
    latency = summary['latency_ms']
    lines += ['', 'cross-process start latency: p50 %.1f ms, p95 %.1f ms, '
              'min %.1f, max %.1f' % (latency['p50'], latency['p95'],
                                      latency['min'], latency['max'])]
    return '\n'.join(lines)


def git_commit():
    return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=HERE,
                          capture_output=True, text=True).stdout.strip()


def add_run_options(parser):
    """The options of a worker-process bench: --repeat, --jobs,
    --io-jobs."""
    parser.add_argument('--repeat', type=int, default=1,
                        help='runs per figure (median; default 1)')
    parser.add_argument('--jobs', type=int, default=2000,
                        help='no-op jobs per throughput run (default 2,000)')
    parser.add_argument('--io-jobs', type=int, default=400,
                        help='20 ms jobs per throughput run (default 400)')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_run_options(parser)
    args = parser.parse_args(argv)
    for name, task in TASKS.items():
        testing.register_task(name, task)
    started = datetime.datetime.now(datetime.timezone.utc)
    meta = {'commit': git_commit(), 'date': started.isoformat(
        timespec='seconds'), 'python': sys.version.split()[0],
        'platform': platform.platform(), 'cpus': os.cpu_count(),
        'loadavg_start': os.getloadavg(), 'repeat': args.repeat,
        'jobs': args.jobs, 'io_jobs': args.io_jobs}
    folder = tempfile.mkdtemp(prefix='zodbtasks-bench-zeo-')
    zeo, address = start_zeo(folder)
    try:
        config = make_instance(folder, address)
        with open_bench(address) as bench:
            figures = measure(config, bench, args.repeat, args.jobs,
                              args.io_jobs, server_pid=zeo.pid)
    finally:
        testing.stop_process(zeo)
        shutil.rmtree(folder, ignore_errors=True)
    meta.update(loadavg_end=os.getloadavg(), seconds=(
        datetime.datetime.now(datetime.timezone.utc) - started).seconds)
    summary = summarize(figures)
    print('\n%s\n' % markdown(summary))
    print('commit %s; load average at start %s, at end %s; %d s' % (
        meta['commit'], *('/'.join('%.2f' % v for v in meta[key])
                          for key in ('loadavg_start', 'loadavg_end')),
        meta['seconds']))
    for result in summary['targets']:
        print('%s: %s = %.2f (target %s)' % (
            'PASS' if result['passed'] else 'FAIL', result['name'],
            result['value'], result['limit']))
    output = os.path.join(RESULTS_DIR, 'zeo-%s.json'
                          % started.strftime('%Y%m%dT%H%M%SZ'))
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(output, 'w') as stream:
        json.dump({'meta': meta, 'figures': figures, 'summary': summary},
                  stream, indent=2)
    print('\nfigures written to %s' % os.path.relpath(output))
    return 0  # a report: the targets' results are printed and in the JSON


if __name__ == '__main__':
    sys.exit(main())
