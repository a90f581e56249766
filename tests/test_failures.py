"""Failed jobs grouped by kind (zodbtasks.failures)."""
import sys
import types

import pytest
import transaction

from zodbtasks import failures
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED
from zodbtasks.job import Job


def _job(error, traceback=None, jobid=1):
    job = Job(jobid, 'echo', None)
    job.error, job.traceback = error, traceback
    return job


@pytest.mark.parametrize('error, key', [
    ('ValueError: bad input 3', 'ValueError: bad input <n>'),
    ("KeyError: 'user-17'", 'KeyError: <str>'),
    ('OSError: cannot open /var/data/file-123.txt',
     'OSError: cannot open <path>'),
    ('RuntimeError: <Foo object at 0x7f3a2b1c>',
     'RuntimeError: <Foo object at <hex>>'),
    ('LookupError: no order 123e4567-e89b-12d3-a456-426614174000',
     'LookupError: no order <uuid>'),
    ('TimeoutError: job 7357132256716332 waited 30.5 s',
     'TimeoutError: job <n> waited <n> s'),
    ('zope.interface.Invalid: no', 'zope.interface.Invalid: no'),
    ('ValueError: first line 1\nsecond line 2', 'ValueError: first line <n>'),
])
def test_the_key_is_the_type_and_the_message_pattern(error, key):
    assert failures.group_key(_job(error)) == key


def test_an_untyped_error_takes_the_type_of_its_traceback():
    job = _job('demo failure: printer 3', 'Traceback (most recent call '
               'last):\n  File "x.py", line 1, in f\n    g()\n'
               'zodbtasks.interfaces.TaskError: demo failure: printer 3\n')
    assert failures.group_key(job) == 'TaskError: demo failure: printer <n>'


def test_an_untyped_error_without_traceback_has_its_own_label():
    job = _job('worker lost: host:12:ab12cd stopped sending heartbeats at '
               '2026-12-02 01:25:03 UTC (attempt 1 of 3)')
    assert failures.group_key(job) == (
        failures.NO_TYPE + ': worker lost: host:<n>:<hex> stopped sending '
        'heartbeats at <time> (attempt <n> of <n>)')
    assert failures.group_key(_job('cancelled: by bob')) == \
        failures.NO_TYPE + ': cancelled: by bob'
    assert failures.group_key(_job(None)) == failures.NO_TYPE + ': '


def test_long_patterns_are_cut():
    key = failures.group_key(_job('ValueError: ' + 'x' * 500))
    assert len(key) == len('ValueError: ') + failures.PATTERN_LIMIT


def _fail(service, inputs, now=100.0):
    ids = []
    for offset, value in enumerate(inputs):
        ids.append(service.add('crash', value))
        transaction.commit()
        service.process(now=now + offset)
    return ids


def test_failed_jobs_are_grouped_with_counts_and_times(service, tasks,
                                                       quiet):
    alike = _fail(service, [1, 22, 333])
    other = _fail(service, ['x'], now=200.0)
    service.add('echo', 'fine')
    transaction.commit()
    service.process(now=300.0)
    summary = failures.group_failures(service)
    assert (summary.scanned, summary.capped, summary.total) == (4, False, 4)
    first, second = summary.groups
    assert (first.key, first.count, first.first_seen, first.last_seen) == (
        'ValueError: bad input <n>', 3, 100.0, 102.0)
    assert first.tasks == ['crash'] and sorted(first.ids) == sorted(alike)
    assert first.example == 'ValueError: bad input 333'  # the newest
    assert (second.key, second.ids) == ('ValueError: bad input <str>', other)


def test_the_scan_is_capped_and_says_so(service, tasks, quiet):
    _fail(service, [1, 2, 3])
    summary = failures.group_failures(service, limit=2)
    assert (summary.scanned, summary.capped, summary.total) == (2, True, 3)
    assert summary.groups[0].count == 2


def test_a_small_group_is_retried_directly(service, tasks, quiet):
    alike = _fail(service, [1, 2])
    other = _fail(service, ['x'])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'retry', now=500.0)
    assert outcome == (True, 2, '2 failed jobs queued again.')
    assert {service.getStatus(jobid) for jobid in alike} == {QUEUED}
    assert service.getStatus(other[0]) == ERROR


def test_a_small_group_is_deleted_directly(service, tasks, quiet):
    alike = _fail(service, [1, 2])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'delete')
    assert outcome.acted and outcome.count == 2
    assert not any(jobid in service.jobs for jobid in alike)


def test_an_unknown_group_or_action(service, tasks, quiet):
    _fail(service, [1])
    assert failures.act_on_group(service, 'nope', 'retry').acted is False
    with pytest.raises(ValueError, match='retry, delete'):
        failures.act_on_group(service, 'nope', 'explode')


@pytest.fixture
def bulk(monkeypatch):
    """A stand-in for zodbtasks.bulk that records its calls."""
    calls = []
    module = types.ModuleType('zodbtasks.bulk')
    module.startBulk = lambda service, action, selector, now=None: \
        calls.append((action, selector, now))
    monkeypatch.setitem(sys.modules, 'zodbtasks.bulk', module)
    return calls


def test_a_large_group_goes_to_the_bulk_actions(service, tasks, quiet,
                                                monkeypatch, bulk):
    monkeypatch.setattr(failures, 'DIRECT_LIMIT', 1)
    alike = _fail(service, [1, 2])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'retry', now=7.0)
    assert outcome.acted and 'background job' in outcome.message
    assert bulk == [('retry', {'status': ERROR, 'error_group':
                               'ValueError: bad input <n>'}, 7.0)]
    assert {service.getStatus(jobid) for jobid in alike} == {ERROR}


def test_a_capped_group_goes_to_the_bulk_actions(service, tasks, quiet,
                                                 bulk):
    _fail(service, [1, 2])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'delete', limit=1)
    assert outcome.acted and 'at least 1' in outcome.message
    assert [call[0] for call in bulk] == ['delete']


def test_without_bulk_actions_a_large_group_is_refused(service, tasks, quiet,
                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, 'zodbtasks.bulk', None)
    monkeypatch.setattr(failures, 'DIRECT_LIMIT', 1)
    alike = _fail(service, [1, 2])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'retry')
    assert not outcome.acted
    assert outcome.message.startswith('Bulk actions unavailable')
    assert {service.getStatus(jobid) for jobid in alike} == {ERROR}


def test_without_bulk_actions_a_capped_small_group_is_acted_on(
        service, tasks, quiet, monkeypatch):
    monkeypatch.setitem(sys.modules, 'zodbtasks.bulk', None)
    _fail(service, [1, 2])
    outcome = failures.act_on_group(service, 'ValueError: bad input <n>',
                                    'retry', limit=1)
    assert outcome.count == 1
    assert 'beyond the first 1 were not looked at' in outcome.message
