"""``zodbtasks migrate`` (zodbtasks.app.opsmigrate) on a zope.conf whose
FileStorage holds legacy services built with the stand-ins of
tests/fixtures/legacy; the legacy classes do not import while it runs."""
import os

import pytest
import ZODB.FileStorage

from zodbtasks import testing
from zodbtasks.app.testing import run_ops
from zodbtasks.interfaces import ITaskService
from zodbtasks.migration import legacy
from zodbtasks.startup import ROOT_NAME
from zodbtasks.transactions import own_connection

import legacy_db

ZOPE_CONF = """\
site-definition {folder}/site.zcml
<eventlog>
  <logfile>
    path STDOUT
  </logfile>
</eventlog>
<zodb>
  <filestorage>
    path {folder}/Data.fs
  </filestorage>
</zodb>
"""


@pytest.fixture
def instance(tmp_path):
    """A zope.conf and the facts of its database's lovely service."""
    folder = str(tmp_path)
    facts = legacy_db.build_in(folder, 'lovely')
    config = os.path.join(folder, 'zope.conf')
    with open(config, 'w') as f:
        f.write(ZOPE_CONF.format(folder=folder))
    facts.config, facts.folder = config, folder
    return facts


def _last_transaction(folder):
    storage = ZODB.FileStorage.FileStorage(
        os.path.join(folder, 'Data.fs'), read_only=True)
    try:
        return storage.lastTransaction()
    finally:
        storage.close()


def test_a_dry_run_prints_what_would_change_and_writes_nothing(instance):
    before = _last_transaction(instance.folder)
    status, out = run_ops('migrate', '--config', instance.config, '--dry-run')
    assert status == 0
    assert _last_transaction(instance.folder) == before
    lines = out.splitlines()
    assert lines[0] == ('site1@TestTaskService1: lovely.remotetask.service.'
                        'TaskService (a broken object: lovely.remotetask '
                        'does not import), 17 jobs')
    assert '  queued            5' in lines
    assert '  start later       1' in lines
    assert '  startlater     1' in lines
    assert '  error          3' in lines
    assert ("  cronjob job %d 'echo': at 03:00, 03:30 every day; next run "
            '2026-01-02 03:00:00 UTC' % instance.ids['cron']) in lines
    assert ("  delayed job %d 'echo': once, 3600 s after it is first seen; "
            'scheduled by the first processor that sees it'
            % instance.ids['delayed_new']) in lines
    assert '  1 job processing: taken by a processor that did not finish ' \
        'it (lovely.remotetask never runs such a job again)' in lines
    assert lines[-1] == 'Dry run: nothing was written.'


def test_the_command_migrates_and_a_second_run_says_it_is_done(instance):
    status, out = run_ops('migrate', '--config', instance.config,
                        '--site', 'site1', '--batch-size', '5')
    assert status == 0, out
    assert 'site1@TestTaskService1: 4 jobs copied (scheduled queue)' in out
    assert out.splitlines()[-1] == (
        "site1@TestTaskService1: migrated 17 jobs to a zodbtasks "
        "TaskService registered as 'TestTaskService1'; the old service is "
        "kept as root['zodbtasks.migrations']['site1@TestTaskService1']"
        ".legacy")
    db = testing.create_database(instance.folder)
    try:
        with own_connection(db) as (connection, _):
            sm = connection.root()[ROOT_NAME]['site1'].getSiteManager()
            service = sm.getUtility(ITaskService, 'TestTaskService1')
            assert len(service.jobs) == 17
    finally:
        db.close()
    status, out = run_ops('migrate', '--config', instance.config)
    assert status == 0
    assert out.startswith('site1@TestTaskService1: migrated already (')


def test_a_service_with_a_bad_job_is_not_migrated_until_it_is_skipped(
        tmp_path):
    folder = str(tmp_path)
    facts = legacy_db.build_in(folder, 'z3c')
    bad = facts.ids['queued'][1]
    with legacy_db.legacy_importable():
        db = testing.create_database(folder)
        with own_connection(db) as (connection, tm):
            job = connection.root()[ROOT_NAME]['tasks'].jobs[bad]
            job._p_activate()
            job.__dict__['task'] = b'echo'
            job._p_changed = True
            tm.commit()
        db.close()
    config = os.path.join(folder, 'zope.conf')
    with open(config, 'w') as f:
        f.write(ZOPE_CONF.format(folder=folder))
    before = _last_transaction(folder)
    status, out = run_ops('migrate', '--config', config)
    assert status == 1
    assert ("  problem: @tasks job %d: task b'echo' is bytes: convert the "
            'database with zodbupdate --convert-py3 --encoding utf-8 first '
            '(docs/migrating.rst)' % bad) in out.splitlines()
    assert out.splitlines()[-1] == '@tasks: not migrated (1 problem above)'
    assert _last_transaction(folder) == before
    status, out = run_ops('migrate', '--config', config, '--skip', str(bad))
    assert status == 0, out
    assert '  left out: job %d, skipped (--skip)' % bad in out.splitlines()
    assert 'migrated 16 jobs' in out


def test_a_legacy_task_registered_in_the_site_is_reported(tmp_path):
    folder = str(tmp_path)
    facts = legacy_db.build_in(folder, 'lovely')
    with legacy_db.legacy_importable():
        from lovely.remotetask.interfaces import ITask as LegacyTask
        db = testing.create_database(folder)
        with own_connection(db) as (connection, tm):
            sm = connection.root()[ROOT_NAME]['site1'].getSiteManager()
            sm.registerUtility(legacy_db.echo, LegacyTask, 'local-echo')
            tm.commit()
        db.close()
    config = os.path.join(folder, 'zope.conf')
    with open(config, 'w') as f:
        f.write(ZOPE_CONF.format(folder=folder))
    status, out = run_ops('migrate', '--config', config)
    assert status == 0
    assert ("  warning: the site still registers utility 'local-echo' for "
            'lovely.remotetask.interfaces.ITask: the site manager needs that '
            'interface to import (see docs/migrating.rst)') in out.splitlines()
    assert facts.label in out


def test_bad_arguments_name_what_is_wrong(instance, capsys):
    assert run_ops('migrate', '--config', instance.config,
                 '--timezone', 'Nowhere/Else')[0] == 2
    assert 'not a time zone this machine knows' in capsys.readouterr().err
    assert run_ops('migrate', '--config', instance.config, '--site', 'site1',
                 '--service', 'other@*')[0] == 2
    assert '--site site1 and --service other@* name different sites' in \
        capsys.readouterr().err
    assert run_ops('migrate', '--config', instance.config,
                 '--service', '@nosuch')[0] == 2
    assert 'no lovely.remotetask or z3c.taskqueue service matches @nosuch' \
        in capsys.readouterr().err
    assert legacy.kind_of_path('lovely.remotetask.job') == 'lovely.remotetask'


def test_a_database_without_legacy_services_has_nothing_to_migrate(
        tmp_path):
    folder = str(tmp_path)
    db = ZODB.DB(ZODB.FileStorage.FileStorage(os.path.join(folder,
                                                           'Data.fs')))
    with own_connection(db) as (connection, tm):
        with tm:
            testing.setup_root(connection)
    db.close()
    config = os.path.join(folder, 'zope.conf')
    with open(config, 'w') as f:
        f.write(ZOPE_CONF.format(folder=folder))
    for dry_run in ((), ('--dry-run',)):
        status, out = run_ops('migrate', '--config', config, *dry_run)
        assert status == 0
        assert out == ('No lovely.remotetask or z3c.taskqueue service '
                       'matches *@*: nothing to migrate.\n')
