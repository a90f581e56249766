"""The group sub-commands of ``zodbtasks`` (groups, clean-group) on a ZEO
database."""
import os
import subprocess
import sys

import pytest

from zodbtasks import clock
from zodbtasks.dispatch import Dispatch

from .conftest import subprocess_environ
from .test_ops import LIVE
from .test_ops import columns
from .test_ops import run
from .test_ops_activities import run_err

HEADER = ['SERVICE', 'GROUP', 'CREATED (UTC)', 'STATUS', 'DONE', 'FAILED',
          'CALLBACK']


def add_group(zeo_service, members, then=None, now=None):
    """A group of ``members`` hold jobs, committed; its id."""
    for attempt in zeo_service.tm.attempts(5):
        with attempt:
            gid = zeo_service.service.addGroup(
                [('hold', 0.0)] * members, then=then,
                now=clock.now() if now is None else now)
    return gid


def finish_queued(zeo_service, failing=()):
    """Claim every queued job and finish it (in error when its id is in
    ``failing``), without running it; committed."""
    service, now = zeo_service.service, clock.now()
    with zeo_service.tm:
        dispatch = Dispatch(service)
        claimed = dispatch.claimJobs(now, 100, LIVE)
        for jobid in claimed:
            dispatch.finishJob(jobid, now, output='ok',
                               error='member failed' if jobid in failing
                               else None)
        dispatch.foldJobs(LIVE)
    return claimed


@pytest.fixture
def three(zeo_service):
    """``done``: two members, completed, no callback; ``failed``: two
    members, one failed, its callback blocked; ``running``: one member
    queued, so the group runs."""
    now = clock.now()
    done = add_group(zeo_service, 2, now=now - 30)
    failed = add_group(zeo_service, 2, then=('hold', None), now=now - 20)
    group = zeo_service.fresh().getGroup(failed)
    finish_queued(zeo_service, failing=group.jobIds[1:])
    running = add_group(zeo_service, 1, now=now - 10)
    return {'done': done, 'failed': failed, 'running': running,
            'callback': group.callbackId}


def test_groups_lists_the_newest_first(zeo_instance, three):
    status, lines = run(zeo_instance, 'groups')
    assert status == 0
    assert columns(lines[0]) == HEADER
    rows = [columns(line) for line in lines[1:]]
    assert [row[1] for row in rows] == [str(three[name]) for name in
                                        ('running', 'failed', 'done')]
    assert [row[:1] + row[3:] for row in rows] == [
        ['zeo@jobs', 'running', '0/1', '0', '-'],
        ['zeo@jobs', 'failed', '2/2', '1', '%d (blocked)' % three['callback']],
        ['zeo@jobs', 'completed', '2/2', '0', '-']]
    assert all(row[2].startswith('20') for row in rows)


def test_groups_limit(zeo_instance, three):
    status, lines = run(zeo_instance, 'groups', '--limit', '1')
    assert status == 0 and len(lines) == 2
    assert columns(lines[1])[1] == str(three['running'])


def test_groups_refuses_a_negative_limit(zeo_instance, three, capsys):
    assert run_err(zeo_instance, capsys, 'groups', '--limit', '-1') == (
        2, [], 'zodbtasks: --limit: expected a whole number >= 0, not -1\n')


def test_groups_of_a_service_without_groups(zeo_instance, zeo_service):
    assert run(zeo_instance, 'groups') == (0, ['No group in *@*.'])


def test_clean_group_removes_its_jobs_and_the_group(zeo_instance,
                                                    zeo_service, three):
    gid = three['done']
    members = zeo_service.fresh().getGroup(gid).jobIds
    assert run(zeo_instance, 'clean-group', str(gid)) == (
        0, ['cleaned group %d (zeo@jobs): 2 jobs removed' % gid])
    service = zeo_service.fresh()
    assert not any(jobid in service.jobs for jobid in members)
    assert gid not in service._groups
    assert service.checkIndex() == []
    assert [columns(line)[1] for line in run(zeo_instance, 'groups')[1][1:]] \
        == [str(three['running']), str(three['failed'])]


@pytest.mark.parametrize('name, message', [
    ('running', 'group %(running)d is running (0 of 1 members finished)'),
    ('failed', 'group %(failed)d is failed, but its callback job '
     '%(callback)d is blocked')])
def test_clean_group_refuses_an_unfinished_group(zeo_instance, zeo_service,
                                                 three, name, message):
    status, lines = run(zeo_instance, 'clean-group', str(three[name]))
    assert status == 1
    assert lines[0].startswith('not cleaned (zeo@jobs): ' + message % three)
    assert three[name] in zeo_service.fresh()._groups


def test_clean_group_of_an_unknown_group_is_an_error(zeo_instance, three,
                                                     capsys):
    assert run_err(zeo_instance, capsys, 'clean-group', '42') == (
        2, [], 'zodbtasks: no group 42 in *@*\n')


def test_clean_group_in_the_commands_own_process(zeo_instance, zeo_service,
                                                 three):
    """No task is registered in the command's process (no ZCML)."""
    output = subprocess.run(
        [sys.executable, '-m', 'zodbtasks.app.ops', 'clean-group',
         str(three['done']), '--config', zeo_instance],
        cwd=os.path.dirname(zeo_instance), capture_output=True, text=True,
        timeout=60, env=subprocess_environ())
    assert output.returncode == 0, output.stderr
    assert output.stdout == 'cleaned group %d (zeo@jobs): 2 jobs removed\n' \
        % three['done']
    assert three['done'] not in zeo_service.fresh()._groups
