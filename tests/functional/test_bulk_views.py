"""Bulk actions from the Jobs tab: "all N matching", the confirmation
naming the count, the bulk job and its progress page."""
import re

import pytest

from .conftest import SERVICE
from zodbtasks import bulk

JOBS = SERVICE + '/@@jobs.html'
BULK = SERVICE + '/@@bulk.html'


@pytest.fixture
def failed(demo):
    """Five failed jobs (fail) and two completed (echo)."""
    s = demo.service
    ids = [s.add('fail', 'f%d' % n) for n in range(5)]
    done = [s.add('echo', 'e%d' % n) for n in range(2)]
    demo.commit()
    s.process()
    demo.commit()
    return ids, done


def _token(browser):
    return browser.get(JOBS).html.find(
        'input', attrs={'name': '_csrf_token'})['value']


def test_all_matching_goes_to_the_confirmation(manager, failed):
    form = manager.get(JOBS, {'status': 'error'}).forms['zt-jobs-form']
    form['all_matching'].checked = True
    response = form.submit('retry', status=303)
    assert '@@bulk.html?action=retry&status=error' in \
        response.headers['Location']
    page = response.follow()
    question = page.html.find(id='zt-bulk-question').text
    assert question == 'Retry 5 jobs matching: status=error?'
    back = page.html.find(id='zt-bulk-back')['href']
    assert back.endswith('@@jobs.html?sort=id&order=desc&status=error')


def test_confirmation_names_a_search_and_its_count(manager, failed):
    page = manager.get(BULK, {'action': 'delete', 'q': 'f3'})
    assert page.html.find(id='zt-bulk-question').text == \
        'Delete 1 job matching: text=f3?'
    back = page.html.find(id='zt-bulk-back')['href']
    assert '@@jobs.html' in back and 'q=f3' in back


def test_confirm_starts_the_bulk_job_and_shows_its_progress(
        manager, demo, failed):
    ids, done = failed
    page = manager.get(BULK, {'action': 'retry', 'status': 'error'})
    response = page.forms['zt-bulk-confirm'].submit('confirm', status=303)
    match = re.search(r'@@bulk.html\?job=(\d+)$', response.headers['Location'])
    jobid = int(match.group(1))
    demo.sync()
    job = demo.service.jobs[jobid]
    assert job.task == bulk.BULK_TASK
    assert job.input == {'action': 'retry', 'selector': {'status': 'error'},
                         'expected': 5, 'exact': True}
    shown = response.follow()
    assert shown.html.find(id='zt-bulk-status').text == 'queued'
    waits = ' '.join(shown.html.find(id='zt-bulk-waits').text.split())
    # process() in the fixture made this process's worker record
    assert waits.startswith('Processing does not run in this process: 1 '
                            'worker(s) sent a heartbeat within their lease')
    assert demo.service.processNext()   # the bulk job, queued first
    demo.commit()
    demo.sync()
    assert [demo.service.getStatus(i) for i in ids] == ['queued'] * 5
    shown = manager.get(response.headers['Location'])
    assert shown.html.find(id='zt-bulk-status').text == 'completed'
    assert shown.html.find(id='zt-bulk-message').text == \
        '5 jobs queued again, 0 left as they were'
    assert shown.html.find(id='zt-bulk-waits') is None


def test_confirm_needs_the_csrf_token(manager, demo, failed):
    manager.post(BULK, {'action': 'delete', 'status': 'error',
                        'confirm': '1'}, status=403)
    demo.sync()
    assert demo.service.countByStatus()['error'] == 5


def test_get_never_starts_a_job(manager, demo, failed):
    manager.get(BULK, {'action': 'delete', 'status': 'error',
                       'confirm': '1', '_csrf_token': _token(manager)})
    demo.sync()
    assert demo.service.countByTask().get(bulk.BULK_TASK, 0) == 0


def test_viewer_may_not_start_a_bulk_job(viewer, demo, failed):
    page = viewer.get(BULK, {'action': 'delete', 'status': 'error'},
                      status=403)
    assert 'not manage' in page.html.find(id='zt-problem').text
    assert page.html.find(id='zt-bulk-confirm') is None


def test_bad_filter_refuses_to_start(manager, demo, failed):
    page = manager.get(BULK, {'action': 'delete', 'created_from': 'soon'},
                       status=400)
    problem = page.html.find(id='zt-problem').text
    assert 'Created from' in problem and 'Nothing was started' in problem
    assert page.html.find(id='zt-bulk-confirm') is None
    response = manager.post(BULK, {
        'action': 'delete', 'created_from': 'soon', 'confirm': '1',
        '_csrf_token': _token(manager)}, status=400)
    assert 'Nothing was started' in response.text
    demo.sync()
    assert demo.service.countByTask().get(bulk.BULK_TASK, 0) == 0


def test_unknown_status_is_refused_not_dropped(manager, demo, failed):
    page = manager.get(BULK, {'action': 'delete', 'status': 'bogus'},
                       status=400)
    assert "Status: 'bogus' is not a status" in \
        page.html.find(id='zt-problem').text
    manager.post(BULK, {'action': 'delete', 'status': 'bogus',
                        'confirm': '1', '_csrf_token': _token(manager)},
                 status=400)
    demo.sync()
    assert len(demo.service.jobs) == 7


def test_unknown_action_is_refused(manager, failed):
    page = manager.get(BULK, {'action': 'explode'}, status=400)
    assert 'Action' in page.html.find(id='zt-problem').text


def test_nothing_matching_has_no_confirm_button(manager, failed):
    page = manager.get(BULK, {'action': 'cancel', 'status': 'queued'})
    assert page.html.find(id='zt-bulk-confirm-button') is None
    assert 'No job matches' in page.text


def test_progress_page_of_a_job_that_is_not_bulk(manager, failed):
    ids, _ = failed
    page = manager.get(BULK, {'job': str(ids[0])}, status=404)
    assert 'not a bulk job' in page.html.find(id='zt-problem').text


def test_run_now_for_selected_jobs(manager, demo):
    later = demo.service.add('echo', 'x', startLater=True)
    demo.commit()
    form = manager.get(JOBS).forms['zt-jobs-form']
    form.get('ids:list', index=0).checked = True
    response = form.submit('requeue')
    assert '1 of 1 selected jobs queued to run now.' in response.text
    demo.sync()
    assert demo.service.getStatus(later) == 'queued'


def test_actions_keep_the_filter(manager, failed):
    form = manager.get(JOBS, {'status': 'error', 'q': 'f'}) \
        .forms['zt-jobs-form']
    assert form['status'].value == 'error' and form['q'].value == 'f'


def test_the_selection_script_is_served(manager, failed):
    page = manager.get(JOBS)
    script = page.html.find('script', src=lambda v: v and 'select.js' in v)
    body = manager.get(script['src']).text
    assert 'zt-all-matching' in body and 'zt-select-page' in body
    # without the script the offer is there (not hidden)
    offer = page.html.find(id='zt-all-matching-label')
    assert offer is not None and not offer.has_attr('hidden')


def test_an_error_group_without_the_failures_module(manager, failed,
                                                    monkeypatch):
    from zodbtasks import search
    monkeypatch.setattr(search, 'group_key_function', lambda: None)
    page = manager.get(BULK, {'action': 'retry', 'status': 'error',
                              'error_group': 'g'}, status=400)
    assert 'Error group: error groups need zodbtasks.failures' in \
        page.html.find(id='zt-problem').text
    listing = manager.get(JOBS, {'status': 'error', 'error_group': 'g'})
    assert 'the error group was left out' in \
        listing.html.find(id='zt-search-note').text
    assert len(re.findall(r'id="zt-job-(\d+)"', listing.text)) == 5


def test_the_confirmation_shows_the_newest_matching_jobs(manager, failed):
    ids, _ = failed
    page = manager.get(BULK, {'action': 'retry', 'status': 'error'})
    shown = [int(a.text) for a in
             page.html.find(id='zt-bulk-preview').find_all('a')]
    assert shown == list(reversed(ids))
    page = manager.get(BULK, {'action': 'retry', 'q': 'f2'})
    shown = [int(a.text) for a in
             page.html.find(id='zt-bulk-preview').find_all('a')]
    assert shown == [ids[2]]
