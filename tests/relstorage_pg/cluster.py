"""Throwaway PostgreSQL clusters, and RelStorage configurations on them:
plain helpers (no pytest) for the fixtures of ``conftest`` and for
``bench/bench_relstorage.py``.

A ``Cluster`` is made with ``initdb`` in a temporary folder and started
with ``pg_ctl`` on a free 127.0.0.1 port (its Unix socket in that folder
too); ``remove`` stops it (``pg_ctl stop -m fast``, then SIGKILL of its
postmaster's pid) and removes the folder.  As root, the folder belongs
to the ``postgres`` user and the PostgreSQL programs run as that user
(``runuser``): they refuse to run as root.  ``missing()`` says why no
cluster can be made here, if so.
"""
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

#: How long PostgreSQL may take to start and to stop (pg_ctl -t).
DEADLINE = 30
#: The cluster's superuser; trust authentication on the loopback only.
SUPERUSER = 'postgres'
#: The system user running PostgreSQL when the tests run as root.
SYSTEM_USER = 'postgres'
#: Settings of a throwaway cluster: nothing needs to survive a power cut.
SETTINGS = ['fsync=off', 'full_page_writes=off', 'max_connections=200']

_names = itertools.count(1)


def find_program(name):
    """``name`` on PATH, else in Debian's /usr/lib/postgresql/N/bin (the
    newest N), else None."""
    found = shutil.which(name)
    if found:
        return found
    for folder in sorted(glob.glob('/usr/lib/postgresql/*/bin'),
                         key=lambda path: _version(path), reverse=True):
        path = os.path.join(folder, name)
        if os.access(path, os.X_OK):
            return path
    return None


def _version(path):
    number = path.split('/')[-2]
    return int(number) if number.isdigit() else 0


def missing():
    """Why the cluster cannot be made here (a sentence), or None."""
    for module in ('relstorage', 'psycopg2'):
        try:
            __import__(module)
        except ImportError:
            return ('%s is not installed (pip install -e ".[test]"): '
                    'RelStorage tests skipped' % module)
    for program in ('initdb', 'pg_ctl', 'postgres'):
        if find_program(program) is None:
            return ('PostgreSQL is not installed (no %s on PATH or in '
                    '/usr/lib/postgresql/*/bin; make system-deps installs '
                    'it as root): RelStorage tests skipped' % program)
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            return ('running as root without a %r system user to run '
                    'PostgreSQL as: RelStorage tests skipped' % SYSTEM_USER)
        if shutil.which('runuser') is None:
            return ('running as root without runuser to run PostgreSQL '
                    'as %r: RelStorage tests skipped' % SYSTEM_USER)
    return None


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster in a folder of its own, on the loopback;
    ``settings`` are its ``name=value`` options (``postgres -c``)."""

    def __init__(self, settings=SETTINGS):
        self.settings = list(settings)
        self.folder = tempfile.mkdtemp(prefix='zodbtasks-pg-')
        self.data = os.path.join(self.folder, 'data')
        self.log = os.path.join(self.folder, 'postgresql.log')
        self.port = None
        self.pid = None
        if os.geteuid() == 0:
            user = pwd.getpwnam(SYSTEM_USER)
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self._prefix = ['runuser', '-u', SYSTEM_USER, '--']
        else:
            self._prefix = []

    def _run(self, program, *args):
        command = self._prefix + [find_program(program)] + list(args)
        result = subprocess.run(command, cwd=self.folder,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                timeout=DEADLINE * 2)
        if result.returncode:
            raise RuntimeError('%s failed (%d):\n%s\n%s' % (
                ' '.join(command), result.returncode, result.stdout,
                self.output()))
        return result.stdout

    def output(self):
        """The server's log so far."""
        if not os.path.exists(self.log):
            return ''
        with open(self.log, errors='replace') as f:
            return f.read()

    def initdb(self):
        self._run('initdb', '-D', self.data, '-U', SUPERUSER, '-A', 'trust',
                  '-E', 'UTF8', '--locale=C', '--no-sync')

    def start(self):
        """Start the server (on the port of its first start) and wait
        until it accepts connections."""
        if self.port is None:
            self.port = free_port()
        options = ['-p', str(self.port), '-k', self.folder,
                   '-c', 'listen_addresses=127.0.0.1']
        for setting in self.settings:
            options += ['-c', setting]
        self._run('pg_ctl', '-D', self.data, '-l', self.log, '-w',
                  '-t', str(DEADLINE), '-o', ' '.join(options), 'start')
        with open(os.path.join(self.data, 'postmaster.pid')) as f:
            self.pid = int(f.readline())

    def stop(self):
        """Stop the server (fast shutdown: sessions are ended, running
        transactions rolled back); SIGKILL its postmaster if that failed
        within the deadline."""
        if self.pid is None:
            return
        pid, self.pid = self.pid, None
        try:
            self._run('pg_ctl', '-D', self.data, '-m', 'fast', '-w',
                      '-t', str(DEADLINE), 'stop')
        except (RuntimeError, subprocess.TimeoutExpired):
            _kill(pid)
            raise

    def restart(self):
        """Stop the server (fast) and start it again on the same port."""
        self.stop()
        self.start()

    def remove(self):
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def dsn(self, dbname='postgres'):
        return 'host=127.0.0.1 port=%d user=%s dbname=%s' % (
            self.port, SUPERUSER, dbname)

    def _execute(self, statement):
        import psycopg2
        connection = psycopg2.connect(self.dsn(), connect_timeout=DEADLINE)
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def create_database(self):
        """A new, empty database; return its name."""
        name = 'zodbtasks_%d_%d' % (os.getpid(), next(_names))
        self._execute('CREATE DATABASE %s' % name)
        return name

    def drop_database(self, name):
        """Drop ``name``, ending the sessions still connected to it."""
        self._execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def relstorage_section(dsn, **settings):
    """A ``<zodb>`` section with a history-free ``<relstorage>`` on
    ``dsn``; ``settings`` (dashes as underscores) are added to the
    ``<relstorage>`` section.  It needs ``%import relstorage`` before."""
    lines = ['<zodb>', '  <relstorage>', '    keep-history false']
    lines += ['    %s %s' % (key.replace('_', '-'), value)
              for key, value in settings.items()]
    lines += ['    <postgresql>', '      dsn %s' % dsn, '    </postgresql>',
              '  </relstorage>', '</zodb>']
    return '\n'.join(lines)


def relstorage_config(dsn, **settings):
    """``relstorage_section`` after ``%import relstorage``: a whole
    ZConfig text for ``ZODB.config.databaseFromString``."""
    return '%%import relstorage\n%s\n' % relstorage_section(dsn,
                                                            **settings)
