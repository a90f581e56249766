"""Readable values (issue 12) in the Jobs tab, its live JSON and a job's
page: short ids, times with their zone and relative, errors as text,
folded tracebacks, the retry policy and every attempt, the tabs."""
import datetime
import json
import random
import urllib.parse

import pytest

from zodbtasks import runner
from zodbtasks.browser import format
from zodbtasks.job import RetryPolicy

from .conftest import SERVICE

JOBS = SERVICE + '/@@jobs.html'


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setattr(format, 'ZONE', datetime.timezone.utc)


def _page(browser, jobid):
    return browser.get('%s/%d' % (SERVICE, jobid))


def test_the_jobs_tab_shows_short_ids_with_the_full_id(manager, demo):
    jobid = demo.service.add('echo', 'x')
    demo.commit()
    link = manager.get(JOBS).html.find(id='zt-job-%d' % jobid).a
    assert link.text == '…' + str(jobid)[-6:]
    assert link['title'] == link['data-copy'] == str(jobid)
    assert link['href'].endswith('/%d' % jobid)


def test_the_jobs_tab_shows_relative_times_with_the_full_one(manager, demo):
    jobid = demo.service.add('echo', 'x')
    demo.commit()
    demo.service.process(now=demo.service.jobs[jobid].created + 120)
    row = manager.get(JOBS).html.find(id='zt-job-%d' % jobid)
    created = row.find(class_='zt-col-created').time
    assert created['datetime'].endswith('Z')
    assert created['title'].endswith(' UTC')
    assert created.text.endswith(' ago') or created.text == 'just now'
    completed = row.find(class_='zt-col-completed').time
    assert completed['title'] == format.local_time(
        demo.service.jobs[jobid].completed)


def test_errors_are_shown_without_json_quotes(manager, demo):
    jobid = demo.service.add('fail', 'the "printer"')
    demo.commit()
    demo.service.process()
    row = manager.get(JOBS).html.find(id='zt-job-%d' % jobid)
    assert row.find('div', class_='zt-error').text == \
        'demo failure: the "printer"'
    page = _page(manager, jobid)
    assert page.html.find(id='zt-error').text == 'demo failure: the "printer"'


def test_the_live_json_has_the_same_readable_values(manager, demo):
    demo.service.add('fail', 'x')
    demo.commit()
    demo.service.process()
    data = json.loads(manager.get(SERVICE + '/@@jobs.json').text)
    [row] = data['rows']
    assert row['error'] == 'demo failure: x'
    assert set(row['completed']) == {'datetime', 'title', 'full', 'text'}
    assert row['completed']['title'].endswith(' UTC')
    assert row['started']['datetime'].endswith('Z')


def test_the_pages_load_the_readable_script(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    for page in (manager.get(JOBS), _page(manager, jobid),
                 manager.get(SERVICE + '/@@failures.html')):
        [src] = [tag['src'] for tag in page.html.find_all('script')
                 if 'readable' in tag.get('src', '')]
        script = manager.get(src.replace('http://localhost', ''))
        assert 'zodbtasksReadable' in script.text


def test_the_job_page_shows_full_times_with_the_relative_ones(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    started = page.html.find(id='zt-started')
    assert started.text == format.local_time(
        demo.service.jobs[jobid].started)
    assert started['datetime'].endswith('Z')
    assert started.find_next_sibling(class_='zt-relative') is not None
    assert page.html.find(id='zt-job-id')['data-copy'] == str(jobid)


def test_the_traceback_folds_the_transaction_managers_frames(manager, demo):
    jobid = demo.service.add('fail', 'x')
    demo.commit()
    demo.service.process()
    page = _page(manager, jobid)
    folded = page.html.find(id='zt-traceback-folded')
    assert 'frames of the transaction manager folded' in folded.text
    assert 'zodbtasks/runner.py' not in folded.text
    assert 'demo/__init__.py' in folded.text        # the task's own frame
    full = page.html.find(id='zt-traceback-full')
    assert full.name == 'details' and 'zodbtasks/runner.py' in full.pre.text


def test_the_job_page_lists_the_retry_policy_and_every_attempt(
        manager, demo, monkeypatch):
    monkeypatch.setattr(random, 'uniform', lambda a, b: 1.0)
    service = demo.service
    jobid = service.add('fail', 'x', retryPolicy=RetryPolicy(
        maxAttempts=2, delay=30.0, retryErrors=True))
    demo.commit()
    created = service.jobs[jobid].created
    tm = runner.transaction_manager_of(service)
    for owner, now in (('worker-a', created + 1), ('worker-b', created + 40)):
        runner.claim(service, tm, now, 1, owner)
        runner.run_job(service, tm, jobid, now + 1, owner=owner)
    page = _page(manager, jobid)
    assert page.html.find(id='zt-max-attempts').text == '2'
    assert '30 s before the first retry' in page.html.find(
        id='zt-back-off').text
    rows = page.html.find(id='zt-attempts').tbody.find_all('tr')
    cells = [[td.text.strip() for td in tr.find_all('td')] for tr in rows]
    assert [(c[0], c[1], c[4]) for c in cells] == [
        ('2', 'worker-b', '1.0 s'), ('1', 'worker-a', '1.0 s')]
    assert all('error' in c[5] and 'demo failure: x' in c[5] for c in cells)
    assert page.html.find(id='zt-history-unknown') is None


def test_a_running_job_shows_its_current_attempt(manager, demo):
    service = demo.service
    jobid = service.add('echo')
    demo.commit()
    runner.claim(service, runner.transaction_manager_of(service),
                 service.jobs[jobid].created + 1, 1, 'worker-a')
    rows = _page(manager, jobid).html.find(id='zt-attempts').tbody('tr')
    assert 'zt-attempt-running' in rows[0]['class']
    assert 'worker-a' in rows[0].text


def test_a_cron_job_counts_runs(manager, demo):
    service = demo.service
    jobid = service.addCronJob('echo', minute=(5,))
    demo.commit()
    service.process(now=0)
    service.process(now=5 * 60)
    service.process(now=65 * 60)
    page = _page(manager, jobid)
    info = page.html.find(id='zt-job-info')
    assert info.find('th', string='Runs') is not None
    assert info.find('th', string='Attempts') is None
    assert page.html.find(id='zt-attempt-count').text == '2'
    assert page.html.find('h2', string='Runs') is not None
    assert page.html.find(id='zt-retry-policy') is None
    assert len(page.html.find(id='zt-attempts').tbody('tr')) == 2


def test_a_job_stored_without_a_history_shows_its_last_run(manager, demo):
    service = demo.service
    jobid = service.add('echo')
    demo.commit()
    service.process()
    demo.sync()
    del service.jobs[jobid].history   # as jobs stored before 0.2
    demo.commit()
    page = _page(manager, jobid)
    assert page.html.find(id='zt-history-unknown') is not None
    [row] = page.html.find(id='zt-attempts').tbody('tr')
    assert 'completed' in row.text


def test_a_job_not_run_yet(manager, demo):
    jobid = demo.service.add('echo', startLater=True)
    demo.commit()
    assert _page(manager, jobid).html.find(id='zt-no-attempts') is not None


def test_job_pages_keep_the_services_tabs_and_have_no_registration_tab(
        manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    page = _page(manager, jobid)
    base = page.html.find('base')['href']
    tabs = [(a.text.strip(), a['href'])
            for a in page.html.find(class_='itemViews')('a')]
    titles = [title for title, _ in tabs]
    assert 'Registration' not in titles
    assert titles[:7] == ['Job', 'Jobs', 'Failures', 'Groups', 'Overview',
                          'Tasks', 'Workers']
    for title, href in tabs:
        target = urllib.parse.urljoin(base, href)
        assert manager.get(target.replace('http://localhost', '')) \
            .status_int == 200, title
    assert ('Jobs', '../@@jobs.html') in tabs


def test_a_viewer_sees_no_manage_tabs_on_job_pages(viewer, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    titles = [a.text.strip() for a in
              _page(viewer, jobid).html.find(class_='itemViews')('a')]
    assert 'Jobs' in titles and 'Add job' not in titles
    assert 'Registration' not in titles
