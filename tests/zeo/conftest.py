"""Real ZEO servers and worker processes on the loopback interface.

- ``zeo_server``: a ``runzeo`` process (the venv's console script) on a
  free 127.0.0.1 port, with its Data.fs in the test's folder; it has
  ``address``, ``stop()``, ``start()`` and ``restart()``, and is stopped
  by its pid (SIGTERM, then SIGKILL) whatever the test did.
- ``zeo_instance``: an instance folder whose zope.conf has a
  ``<zeoclient>`` section for that server, ``autostart`` empty and
  ``processors off`` (a web process of it would only serve), and whose
  site.zcml includes ``tests/zeo/tasks.zcml``.
- ``workers``: starts ``zodbtasks-worker`` processes of that instance
  (``python -m zodbtasks.app.worker``, the repository root on
  PYTHONPATH so that they import ``tests.zeo.tasks``); kills by pid those
  still running at the end.
- ``zeo_db`` and ``zeo_service``: this process's own ZEO client, and a
  task service ``zeo@jobs`` made in it, with the test tasks registered.
"""
import os
import re
import socket
import subprocess
import sys
import time

import pytest
import transaction
import ZEO
from persistent.mapping import PersistentMapping

from zodbtasks import testing
from zodbtasks.app import instance
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import ERROR

from . import tasks

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
SAMPLE = os.path.join(REPO_ROOT, 'etc', 'zope.conf.sample')
#: runzeo as a module of this Python: the same under a venv and under
#: zc.buildout, where no console script sits next to the interpreter.
RUNZEO = [sys.executable, '-m', 'ZEO.runzeo']
#: How long a server or a worker may take to start, and to stop.
DEADLINE = 30.0
#: How often conditions are polled.
POLL = 0.2
SITE = 'zeo'
#: Transactions tried by this process when they conflict with workers.
ATTEMPTS = 10
SERVICE = 'jobs'

_FILESTORAGE = re.compile(r'^<zodb>\n  <filestorage>\n.*?^</zodb>$',
                          re.MULTILINE | re.DOTALL)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(predicate, deadline, message, interval=POLL):
    """Call ``predicate`` every ``interval`` seconds until it returns
    something true, and return that; fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= end:
            if callable(message):
                message = message()
            pytest.fail('%s within %ss' % (message, deadline))
        time.sleep(interval)


def subprocess_environ():
    """The environment for our subprocesses: the repository first on
    PYTHONPATH (for tests.zeo.tasks), then what was there (zc.buildout
    puts its eggs there)."""
    environ = dict(os.environ)
    environ['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [p for p in [environ.get('PYTHONPATH')] if p])
    return environ


def stop_process(process, deadline=DEADLINE):
    """SIGTERM ``process``, SIGKILL it after ``deadline`` seconds (see
    ``zodbtasks.testing.stop_process``)."""
    return testing.stop_process(process, deadline)


class ZEOServer:
    """A ``runzeo`` process serving ``folder``/Data.fs on a free port."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.path = os.path.join(folder, 'zeo-Data.fs')
        self.log = os.path.join(folder, 'zeo.log')
        self.process = None

    @property
    def address(self):
        return ('127.0.0.1', self.port)

    def start(self):
        with open(self.log, 'a') as output:
            self.process = subprocess.Popen(
                RUNZEO + ['-a', '127.0.0.1:%d' % self.port, '-f', self.path],
                cwd=self.folder, stdout=output, stderr=subprocess.STDOUT)
        wait_for(self._listening, DEADLINE, 'runzeo did not listen',
                 interval=0.05)

    def _listening(self):
        assert self.process.poll() is None, 'runzeo ended: see ' + self.log
        try:
            socket.create_connection(self.address, 0.05).close()
            return True
        except OSError:
            return False

    def stop(self):
        """Stop the server (SIGTERM, then SIGKILL); return its status."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        return stop_process(process)

    def restart(self):
        self.stop()
        self.start()


@pytest.fixture
def zeo_server(tmp_path):
    server = ZEOServer(str(tmp_path))
    try:
        server.start()
        yield server
    finally:
        server.stop()


def make_zeo_instance(folder, address, autostart='', processors='off',
                      threads=1, wait_timeout=None):
    """Make an instance in ``folder`` whose database is the ZEO server at
    ``address``; return its zope.conf's path.

    With ``wait_timeout``, the client section is ZEO's own
    ``<clientstorage>``, whose requests wait at most that many seconds for
    a server that is away (ZODB's ``<zeoclient>`` waits 30 s).
    """
    if wait_timeout is None:
        client = ('<zodb>\n  <zeoclient>\n    server %s:%d\n    storage 1\n'
                  '  </zeoclient>\n</zodb>' % address)
    else:
        client = ('%%import ZEO\n<zodb>\n  <clientstorage>\n'
                  '    server %s:%d\n    storage 1\n    wait-timeout %d\n'
                  '  </clientstorage>\n</zodb>' % (address + (wait_timeout,)))
    return make_instance(folder, client, autostart, processors, threads)


def make_instance(folder, database, autostart='', processors='off',
                  threads=1, imports=()):
    """Make an instance in ``folder`` whose ``<zodb>`` section is
    ``database`` (in place of the sample's ``<filestorage>`` one), with
    ``%import PACKAGE`` lines for ``imports`` at the top of zope.conf and
    tests/zeo/tasks.zcml included by site.zcml; return zope.conf's path.
    """
    config = os.path.join(folder, 'zope.conf')
    instance.create_instance(config, SAMPLE, {})
    with open(config) as f:
        text = f.read()
    text, replaced = _FILESTORAGE.subn(lambda match: database, text, count=1)
    assert replaced == 1, 'no <filestorage> block in ' + SAMPLE
    text = ''.join('%%import %s\n' % package for package in imports) + text
    for key, value in (('autostart', autostart), ('processors', processors),
                       ('threads', threads)):
        text, replaced = re.subn(r'^(  %s) .*$' % key, r'\1 %s' % value,
                                 text, count=1, flags=re.MULTILINE)
        assert replaced == 1, 'no %s in %s' % (key, SAMPLE)
    with open(config, 'w') as f:
        f.write(text)
    site_zcml = os.path.join(folder, 'site.zcml')
    with open(site_zcml) as f:
        text = f.read()
    with open(site_zcml, 'w') as f:
        f.write(text.replace(
            '<include file="principals.zcml" />',
            '<include package="tests.zeo" file="tasks.zcml" />\n\n'
            '  <include file="principals.zcml" />'))
    return config


@pytest.fixture
def zeo_instance(request, tmp_path, zeo_server):
    """The instance; parametrized indirectly, its parameter is the
    ``wait_timeout`` of ``make_zeo_instance``."""
    folder = tmp_path / 'instance'
    folder.mkdir()
    return make_zeo_instance(str(folder), zeo_server.address,
                             wait_timeout=getattr(request, 'param', None))


class Worker:
    """A ``zodbtasks-worker`` process and its output."""

    def __init__(self, process, log):
        self.process = process
        self.log = log

    @property
    def pid(self):
        return self.process.pid

    def output(self):
        with open(self.log) as f:
            return f.read()

    def owns(self, job):
        """Whether ``job``'s owner is one of this process's workers."""
        return job.owner is not None \
            and job.owner.split(':')[1:2] == [str(self.pid)]


class Workers:
    """Starts the worker processes of one instance; ``close`` kills those
    still running."""

    def __init__(self, config, runs):
        self.config = config
        self.folder = os.path.dirname(config)
        self.runs = runs
        self.started = []

    def start(self, autostart='%s@%s' % (SITE, SERVICE), threads=1,
              wait=True):
        """Start a worker (``--autostart`` and ``--threads`` unless
        None); with ``wait``, return once it started its processors."""
        options = []
        if autostart is not None:
            options += ['--autostart', autostart]
        if threads is not None:
            options += ['--threads', str(threads)]
        number = len(self.started)
        log = os.path.join(self.folder, 'worker-%d.out' % number)
        environ = subprocess_environ()
        environ[tasks.RUNS_VARIABLE] = self.runs
        environ[tasks.SPANS_VARIABLE] = self.runs + '.spans'
        with open(log, 'w') as output:
            process = subprocess.Popen(
                [sys.executable, '-m', 'zodbtasks.app.worker',
                 '--config', self.config] + options,
                cwd=self.folder, stdout=output, stderr=subprocess.STDOUT,
                env=environ)
        worker = Worker(process, log)
        self.started.append(worker)
        if wait:
            self.wait_started(worker)
        return worker

    def wait_started(self, worker):
        def started():
            assert worker.process.poll() is None, \
                'the worker ended early:\n' + worker.output()
            return 'zodbtasks worker ' in worker.output() \
                and ' started: ' in worker.output()
        wait_for(started, DEADLINE, 'the worker did not start')

    def stop(self, worker, deadline=DEADLINE):
        """SIGTERM ``worker``; return its exit status (None: killed)."""
        return stop_process(worker.process, deadline)

    def kill(self, worker):
        """SIGKILL ``worker`` (kill -9) and wait for it."""
        worker.process.kill()
        worker.process.wait()

    def close(self):
        for worker in self.started:
            if worker.process.poll() is None:
                self.kill(worker)

    def spans(self):
        """``[(jobid, pid, start, end), ...]``: every run of ``span``."""
        spans = []
        if os.path.exists(self.runs + '.spans'):
            with open(self.runs + '.spans') as f:
                for line in f:
                    jobid, pid, start, end = line.split()
                    spans.append((int(jobid), int(pid), float(start),
                                  float(end)))
        return spans

    def runs_by_job(self):
        """``{jobid: [pid, ...]}``: every run of ``count`` or ``hold``."""
        runs = {}
        if os.path.exists(self.runs):
            with open(self.runs) as f:
                for line in f:
                    if line.startswith('G '):
                        continue
                    jobid, pid = line.split()
                    runs.setdefault(int(jobid), []).append(int(pid))
        return runs

    def groups(self):
        """``[(pid, [jobid, ...]), ...]``: every group ``grouped`` ran,
        committed or not."""
        found = []
        if os.path.exists(self.runs):
            with open(self.runs) as f:
                for line in f:
                    if line.startswith('G '):
                        _, pid, ids = line.split()
                        found.append((int(pid),
                                      [int(jobid) for jobid in
                                       ids.split(',')]))
        return found


@pytest.fixture
def workers(zeo_instance, tmp_path):
    started = Workers(zeo_instance, str(tmp_path / 'runs.txt'))
    try:
        yield started
    finally:
        started.close()


@pytest.fixture
def zeo_db(zeo_server):
    db = ZEO.DB(zeo_server.address, wait_timeout=DEADLINE)
    try:
        yield db
    finally:
        testing.close_database(db)


class Service:
    """This process's view of the service ``zeo@jobs``: a connection of
    its own with its own transaction manager."""

    def __init__(self, db):
        self.tm = transaction.TransactionManager()
        self.connection = db.open(transaction_manager=self.tm)
        root = testing.setup_root(self.connection)
        site = root.get(SITE) or testing.add_site(root, SITE)
        self.service = site.getSiteManager()['default'].get(SERVICE) \
            or testing.add_service(site, SERVICE)
        self.tm.commit()

    def close(self):
        self.tm.abort()
        self.connection.close()

    def fresh(self):
        """The service as of now (a new transaction)."""
        self.tm.abort()
        self.tm.begin()
        return self.service

    def add_counted(self, number, sleep=0.0, batch=100, **kw):
        """Add ``number`` ``count`` jobs, each with a counter of its own,
        ``batch`` per transaction; return their ids."""
        ids = []
        while len(ids) < number:
            for attempt in self.tm.attempts(ATTEMPTS):
                with attempt:
                    chunk = [self.service.add(
                        'count', PersistentMapping(value=0, sleep=sleep),
                        **kw)
                        for _ in range(min(batch, number - len(ids)))]
            ids.extend(chunk)
        return ids

    def add(self, task, input=None, **kw):
        return self.add_jobs([(task, input, kw)])[0]

    def add_jobs(self, specs):
        """Add jobs ``(task, input, keywords)`` in one transaction; return
        their ids."""
        for attempt in self.tm.attempts(ATTEMPTS):
            with attempt:
                ids = [self.service.add(task, input, **kw)
                       for task, input, kw in specs]
        return ids

    def set(self, **attributes):
        for attempt in self.tm.attempts(ATTEMPTS):
            with attempt:
                for name, value in attributes.items():
                    setattr(self.service, name, value)

    def counts(self):
        return self.fresh().countByStatus()

    def wait_finished(self, ids, deadline, statuses=(COMPLETED, ERROR)):
        """Wait until every job of ``ids`` has one of ``statuses`` (read
        from the jobs themselves, not the indexes); return the jobs."""
        pending = list(ids)

        def finished():
            service = self.fresh()
            pending[:] = [jobid for jobid in pending
                          if service.jobs[jobid].status not in statuses]
            return not pending
        wait_for(finished, deadline,
                 lambda: '%d jobs did not finish' % len(pending))
        service = self.fresh()
        return [service.jobs[jobid] for jobid in ids]


@pytest.fixture
def zeo_service(zeo_db):
    tasks.register()
    service = Service(zeo_db)
    try:
        yield service
    finally:
        service.close()
