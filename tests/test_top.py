"""``zodbtasks top`` (zodbtasks.app.top): its screen, read afresh at each
refresh, and the full-screen command under a pseudo-terminal; and
``zodbtasks metrics`` (zodbtasks.app.opsmetrics)."""
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

import pyte
import pytest
import transaction
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import \
    text_string_to_metric_families as parse_prometheus

from zodbtasks import clock
from zodbtasks import testing
from zodbtasks.app.testing import run_ops
from zodbtasks.app import top
from zodbtasks.app.session import Session
from zodbtasks.dispatch import Dispatch
from zodbtasks.interfaces import STATUSES
from zodbtasks.transactions import own_connection

ZOPE_CONF = """\
site-definition {folder}/site.zcml
<eventlog>
  <logfile>
    path {folder}/event.log
  </logfile>
</eventlog>
<zodb>
  <filestorage>
    path {folder}/Data.fs
  </filestorage>
</zodb>
"""
#: Seconds the pseudo-terminal test waits for a screen at most.
DEADLINE = 30.0


def make_jobs(service):
    """echo: 3 queued, 1 processing (worker host:1:aaaaaa); mail: 1
    startlater."""
    testing.register_task('echo', lambda input: input)
    testing.register_task('mail', lambda input: input)
    for number in range(4):
        service.add('echo', number)
    service.add('mail', None, startLater=True)
    transaction.commit()
    Dispatch(service).claimJobs(clock.now(), 1, 'host:1:aaaaaa')
    transaction.commit()


@pytest.fixture
def instance(tmp_path):
    """A zope.conf whose FileStorage holds site1@jobs with make_jobs'
    jobs (closed: the command opens it)."""
    folder = str(tmp_path)
    db = testing.create_database(folder)
    connection = db.open()
    root = testing.setup_root(connection)
    site = testing.add_site(root, 'site1')
    make_jobs(testing.add_service(site, 'jobs'))
    connection.close()
    testing.close_database(db)
    config = os.path.join(folder, 'zope.conf')
    with open(config, 'w') as f:
        f.write(ZOPE_CONF.format(folder=folder))
    return config


# -- one screen ------------------------------------------------------------

def test_once_prints_the_counts_by_task_status_and_worker(instance):
    status, out = run_ops('--config', instance, 'top', '--once')
    assert status == 0
    lines = out.splitlines()
    assert lines[0].endswith(' UTC  zodbtasks top, every 2s  sort:task  '
                             '(q quit  p pause  s sort)')
    assert 'sort:task' in lines[0]
    assert lines[2].startswith('site1@jobs  queued:3  processing:1  '
                               'startlater:1  workers:1 alive, 0 lost')
    table = [line.split() for line in lines if line.startswith('site1@')]
    assert ['site1@jobs', 'echo', 'queued', '3', '-', '-'] in table
    assert ['site1@jobs', 'echo', 'processing', '1', '-', '1'] in table
    assert ['site1@jobs', 'mail', 'startlater', '1', '-', '-'] in table
    assert any(line.startswith('W1 host:1:aaaaaa (site1@jobs)  alive')
               for line in lines)


def test_a_refresh_reads_what_was_committed_since(service, tasks, db):
    service.add('echo', 1)
    transaction.commit()
    with own_connection(db) as (connection, tm):
        session = Session(connection, tm, 'site1@jobs')
        state = top.State()
        assert 'queued:1' in top.frame(session, state)[2]
        service.add('echo', 2)
        transaction.commit()
        assert 'queued:2' in top.frame(session, state)[2]


def test_the_sort_orders_and_pause(service, tasks, db):
    for task, count in (('echo', 1), ('counter', 3)):
        for number in range(count):
            service.add(task, number)
    service.add('echo', 0, startLater=True)
    transaction.commit()
    with own_connection(db) as (connection, tm):
        session = Session(connection, tm, '*@*')
        state = top.State()

        def order():
            return [tuple(line.split()[1:3]) for line in
                    top.frame(session, state) if line.startswith('site1@')
                    and line.split()[2] in STATUSES]
        assert order() == [('counter', 'queued'), ('echo', 'queued'),
                           ('echo', 'startlater')]
        assert state.key('s') and state.sort == 'count'
        assert order()[0] == ('counter', 'queued')
        assert state.key('s') and state.sort == 'status'
        assert order()[-1] == ('echo', 'startlater')
        assert state.key('p') and state.paused
        assert '[PAUSED]' in top.frame(session, state)[0]
        assert state.key('q') is False


def test_the_rates_of_the_last_minutes(service, tasks, quiet):
    now = clock.now()
    for number in range(3):
        service.add('echo', number, now=now - 30)
    service.add('fail', None, now=now - 30)
    transaction.commit()
    service.process(now - 20)
    transaction.commit()
    per_minute, failed = top.rates(service, now)
    assert per_minute['total'] > 0 and failed > 0
    assert per_minute['echo']['completed'] == pytest.approx(
        3 * per_minute['fail']['failed'])


def test_a_bad_interval_is_refused(instance, capsys):
    status, _ = run_ops('--config', instance, 'top', '--interval', '0')
    assert status == 2
    assert '--interval 0: expected seconds > 0' in capsys.readouterr().err


class FakeScreen:
    """What ``top.draw`` asks of a curses window."""

    def __init__(self, height, width):
        self.size, self.drawn = (height, width), {}

    def getmaxyx(self):
        return self.size

    def erase(self):
        self.drawn = {}

    def addnstr(self, y, x, text, length):
        self.drawn[y] = text[:length]

    def refresh(self):
        pass


def test_draw_cuts_to_the_screen_and_says_what_is_left_out():
    screen = FakeScreen(3, 10)
    top.draw(screen, ['a' * 20, 'b', 'c', 'd'])
    assert screen.drawn == {0: 'a' * 9, 1: 'b',
                            2: '... 2 mor'}  # width - 1
    top.draw(screen, ['x', 'y'])
    assert screen.drawn == {0: 'x', 1: 'y'}


# -- the full-screen command -----------------------------------------------

class Terminal:
    """``zodbtasks top`` in a child process on a pseudo-terminal of
    ROWS x COLUMNS, whose output a terminal emulator (pyte) draws."""

    ROWS, COLUMNS = 30, 140

    def __init__(self, config):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child
            os.environ['TERM'] = 'xterm'
            os.execv(sys.executable, [
                sys.executable, '-m', 'zodbtasks.app.ops', '--config',
                config, 'top', '--interval', '0.5'])
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ,
                    struct.pack('HHHH', self.ROWS, self.COLUMNS, 0, 0))
        self.screen = pyte.Screen(self.COLUMNS, self.ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.output = b''

    def lines(self):
        return [line.rstrip() for line in self.screen.display]

    def wait_for(self, *wanted):
        """Read until the screen shows each of ``wanted`` (in a line,
        white space collapsed); AssertionError at DEADLINE."""
        deadline = time.monotonic() + DEADLINE

        def shown():
            text = '\n'.join(' '.join(line.split())
                             for line in self.lines())
            return all(want in text for want in wanted)
        while not shown():
            left = deadline - time.monotonic()
            assert left > 0, 'not shown: %r in\n%s' % (
                wanted, '\n'.join(self.lines()))
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = self.read()
                assert chunk, 'the command ended:\n%s' % '\n'.join(
                    self.lines())

    def read(self):
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # the child closed the terminal
            return b''
        self.stream.feed(chunk)
        self.output += chunk
        return chunk

    def send(self, text):
        os.write(self.fd, text.encode())

    def exit_status(self):
        """The child's exit status, once it ended (bounded by DEADLINE)."""
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            if select.select([self.fd], [], [], 0.1)[0]:
                self.read()
        raise AssertionError('zodbtasks top did not end')

    def kill(self):
        try:
            os.kill(self.pid, 9)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def test_top_under_a_pseudo_terminal(instance):
    terminal = Terminal(instance)
    try:
        terminal.wait_for('sort:task', 'site1@jobs echo queued 3 - -',
                          'site1@jobs echo processing 1 - 1',
                          'site1@jobs mail startlater 1 - -',
                          'W1 host:1:aaaaaa (site1@jobs) alive')
        terminal.send('s')
        terminal.wait_for('sort:count')
        rows = [line.split()[1:3] for line in terminal.lines()
                if line.startswith('site1@jobs ')
                and line.split()[2] in STATUSES]
        assert rows[0] == ['echo', 'queued']
        terminal.send('p')
        terminal.wait_for('[PAUSED]')
        terminal.send('p')
        terminal.wait_for('sort:count (q quit')
        terminal.send('q')
        assert terminal.exit_status() == 0
        # curses restored the terminal: line mode and echo again, and the
        # screen the command started on (xterm's alternate screen left,
        # which pyte does not emulate)
        mode = termios.tcgetattr(terminal.fd)[3]
        assert mode & termios.ICANON and mode & termios.ECHO
        entered = terminal.output.index(b'\x1b[?1049h')
        assert terminal.output.index(b'\x1b[?1049l', entered)
    finally:
        terminal.kill()


def test_ctrl_c_ends_top_too(instance):
    terminal = Terminal(instance)
    try:
        terminal.wait_for('site1@jobs echo queued 3 - -')
        terminal.send('\x03')
        assert terminal.exit_status() == 0
        mode = termios.tcgetattr(terminal.fd)[3]
        assert mode & termios.ICANON and mode & termios.ECHO
        assert b'Traceback' not in terminal.output
    finally:
        terminal.kill()


# -- zodbtasks metrics -------------------------------------------------------

def test_metrics_prints_openmetrics(instance):
    status, out = run_ops('--config', instance, 'metrics')
    assert status == 0
    families = {family.name: family for family in parse_openmetrics(out)}
    queued = [sample for sample in families['zodbtasks_jobs'].samples
              if sample.labels['status'] == 'queued'
              and sample.labels['task'] == 'echo']
    assert [(s.labels['service'], s.value) for s in queued] \
        == [('site1@jobs', 3)]
    assert families['zodbtasks_workers_alive'].samples[0].value == 1


def test_metrics_writes_the_prometheus_text_to_a_file(instance, tmp_path):
    path = str(tmp_path / 'zodbtasks.prom')
    status, out = run_ops('--config', instance, '--service', 'site1@*',
                          'metrics', '--format', 'prometheus', '--output',
                          path)
    assert status == 0 and out == ''
    with open(path) as f:
        text = f.read()
    names = {family.name for family in parse_prometheus(text)}
    assert 'zodbtasks_jobs' in names
    assert [name for name in os.listdir(str(tmp_path))
            if name.startswith('.metrics-')] == []


def test_metrics_names_an_output_it_cannot_write(instance, tmp_path,
                                                 capsys):
    path = str(tmp_path / 'missing' / 'zodbtasks.prom')
    status, _ = run_ops('--config', instance, 'metrics', '--output', path)
    assert status == 2
    assert '--output %s' % path in capsys.readouterr().err
