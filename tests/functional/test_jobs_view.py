"""The Jobs tab: listing, sorting, filtering, batching and every action."""
import re

import pytest

from .conftest import SERVICE
from zodbtasks.dispatch import Dispatch
from index_helpers import forget_tallies

JOBS = SERVICE + '/@@jobs.html'


def _ids(response):
    return [int(i) for i in re.findall(r'id="zt-job-(\d+)"', response.text)]


@pytest.fixture
def six(demo):
    """echo a, fail b, echo c (queued), echo d, fail e, log f (queued)."""
    s = demo.service
    ids = [s.add('echo', 'a'), s.add('fail', 'b')]
    demo.commit()
    s.process()
    ids += [s.add('echo', 'c', startLater=True), s.add('echo', 'd'),
            s.add('fail', 'e')]
    demo.commit()
    s.process()
    ids.append(s.add('log', 'f', startLater=True))
    demo.commit()
    return ids


def test_anonymous_gets_the_login_challenge(anonymous, demo):
    response = anonymous.get(JOBS, status=401)
    assert 'basic' in response.headers['WWW-Authenticate'].lower()


def test_jobs_is_the_default_view_and_a_tab(manager, demo):
    response = manager.get(SERVICE)
    assert 'id="zt-jobs"' in response.text
    assert '@@jobs.html' in response.text and '@@overview.html' in \
        response.text and '@@addCronJob.html' in response.text


def test_newest_first_by_default(manager, six):
    assert _ids(manager.get(JOBS)) == list(reversed(six))


def test_sort_by_task(manager, six):
    response = manager.get(JOBS, {'sort': 'task', 'order': 'asc'})
    tasks = re.findall(r'</a></td>\s*<td>(\w+)</td>', response.text)
    assert tasks == sorted(tasks) and len(tasks) == 6


def test_sort_links_toggle_the_order(manager, six):
    response = manager.get(JOBS, {'sort': 'task', 'order': 'asc'})
    link = response.html.find('a', class_='zt-sort-task')['href']
    assert 'order=desc' in link and '▲' in response.html.find(
        'a', class_='zt-sort-task').text


def test_filter_by_status(manager, six):
    response = manager.get(JOBS, {'status': 'error'})
    assert _ids(response) == [six[4], six[1]]
    assert response.html.find(id='zt-total').text == '2'


def test_filter_by_task_and_status(manager, six):
    response = manager.get(JOBS, {'status': 'completed', 'task': 'echo'})
    assert _ids(response) == [six[3], six[0]]


def test_an_index_made_before_tallies_gets_them_from_the_views(manager,
                                                               demo, six):
    forget_tallies(demo.service._index)
    demo.commit()
    response = manager.get(JOBS, {'status': 'completed', 'task': 'echo'})
    assert _ids(response) == [six[3], six[0]]
    assert response.html.find(id='zt-total').text == '2'
    overview = manager.get(SERVICE + '/@@overview.html')
    rows = [[td.text for td in tr.find_all('td')] for tr in
            overview.html.find(id='zt-priorities').find_all('tr')
            if tr.get('id')]
    assert rows == [['0', '2']]  # two started later (failed ones do not wait)
    demo.sync()
    index = demo.service._index
    assert index.task_tally is not None and index.priority_tally is not None
    assert demo.service.checkIndex() == []


def test_the_last_page_and_the_page_before(manager, six):
    assert _ids(manager.get(JOBS, {'size': '4', 'start': '4'})) \
        == [six[1], six[0]]
    assert _ids(manager.get(JOBS, {'size': '2', 'start': '2'})) \
        == [six[3], six[2]]
    assert _ids(manager.get(JOBS, {'size': '4', 'start': '4',
                                   'order': 'asc'})) == six[4:]


def test_bad_parameters_fall_back_to_defaults(manager, six):
    response = manager.get(JOBS, {'sort': 'input', 'status': 'nosuch',
                                  'start': 'x', 'size': '-5'})
    assert response.status_int == 200 and len(_ids(response)) == 1


def test_batching(manager, six):
    first = manager.get(JOBS, {'size': '4'})
    assert _ids(first) == list(reversed(six))[:4]
    assert 'Jobs 1–4 of' in first.text
    second = first.click(linkid='zt-next')
    assert _ids(second) == list(reversed(six))[4:]
    assert second.html.find(id='zt-previous') is not None


def _act(browser, button, ids=(), status=200, **fields):
    form = browser.get(JOBS).forms['zt-jobs-form']
    for field in form.fields.get('ids:list', []):
        field.checked = int(field._value) in ids
    for name, value in fields.items():
        form[name] = value
    return form.submit(button, status=status)


def test_cancel_selected(manager, demo, six):
    response = _act(manager, 'cancel', ids=[six[2], six[5], six[0]])
    assert '2 of 3 selected jobs cancelled.' in response.text
    demo.sync()
    assert demo.service.getStatus(six[2]) == 'cancelled'
    assert demo.service.getStatus(six[0]) == 'completed'


def test_retry_selected(manager, demo, six):
    response = _act(manager, 'retry', ids=[six[1]])
    assert '1 of 1 selected jobs queued again.' in response.text
    demo.sync()
    assert demo.service.getStatus(six[1]) == 'queued'


def test_delete_selected(manager, demo, six):
    _act(manager, 'delete', ids=[six[0], six[2]])
    demo.sync()
    assert six[0] not in demo.service.jobs and six[2] not in demo.service.jobs


def test_cancel_all(manager, demo, six):
    response = _act(manager, 'cancelAll')
    assert '2 jobs cancelled.' in response.text
    demo.sync()
    assert demo.service.countByStatus()['startlater'] == 0


def test_clean_by_status(manager, demo, six):
    form = manager.get(JOBS).forms['zt-jobs-form']
    for field in form.fields['clean_status:list']:
        field.checked = field._value == 'error'
    response = form.submit('clean')
    assert '2 finished jobs removed (error).' in response.text
    demo.sync()
    assert demo.service.countByStatus()['error'] == 0
    assert demo.service.countByStatus()['completed'] == 2


def test_clean_without_status_says_so(manager, demo, six):
    form = manager.get(JOBS).forms['zt-jobs-form']
    for field in form.fields['clean_status:list']:
        field.checked = False
    assert 'Choose which finished jobs' in form.submit('clean').text


def test_start_and_stop_processing(manager, demo):
    response = _act(manager, 'start')
    assert re.search(r'Processing\s+<strong>runs</strong>', response.text)
    assert demo.service.isProcessing()
    response = _act(manager, 'stop')
    assert re.search(r'does\s+<strong>not</strong>', response.text)
    assert not demo.service.isProcessing()


def test_post_without_csrf_token_is_refused(manager, demo, six):
    response = manager.post(JOBS, {'cancelAll': '1'}, status=403)
    assert 'CSRF' in response.text
    demo.sync()
    assert demo.service.countByStatus()['startlater'] == 2


def test_post_with_forged_token_is_refused(manager, demo, six):
    manager.post(JOBS, {'cancelAll': '1', '_csrf_token': 'f' * 64},
                 status=403)
    demo.sync()
    assert demo.service.countByStatus()['startlater'] == 2


def test_token_of_another_principal_is_refused(manager, viewer, demo, six):
    token = viewer.get(JOBS).html.find(
        'input', attrs={'name': '_csrf_token'})['value']
    manager.post(JOBS, {'cancelAll': '1', '_csrf_token': token}, status=403)


def test_get_never_changes_state(manager, demo, six):
    manager.get(JOBS, {'cancelAll': '1', 'ids:list': str(six[2])})
    demo.sync()
    assert demo.service.countByStatus()['startlater'] == 2


def test_viewer_sees_jobs_but_no_actions(viewer, six):
    response = viewer.get(JOBS)
    assert _ids(response) == list(reversed(six))
    assert 'name="cancelAll"' not in response.text


def test_viewer_cannot_act(viewer, demo, six):
    form = viewer.get(JOBS).forms['zt-jobs-form']
    token = form['_csrf_token'].value
    response = viewer.post(JOBS, {'cancelAll': '1', '_csrf_token': token},
                           status=403)
    assert 'may view jobs but not manage' in response.text
    demo.sync()
    assert demo.service.countByStatus()['startlater'] == 2


def test_user_data_is_escaped(manager, demo):
    demo.service.add('fail', '<script>alert("input")</script>')
    demo.commit()
    demo.service.process()
    response = manager.get(JOBS)
    assert '<script>alert' not in response.text
    assert '&lt;script&gt;alert' in response.text


def test_progress_bar_of_running_job(manager, demo):
    jobid = demo.service.add('echo')
    demo.commit()
    from zodbtasks import runner
    runner.claim(demo.service, demo.tm, 0, 1)
    Dispatch(demo.service).setProgress(jobid, 0.25, 'a quarter')
    demo.commit()
    response = manager.get(JOBS)
    assert 'width: 25%' in response.text and 'a quarter' in response.text


def test_detail_view_of_the_task_is_shown(manager, demo, application):
    import zope.component
    from zope.publisher.interfaces.browser import IBrowserRequest
    from zodbtasks.interfaces import IJob

    class EchoDetail:
        def __init__(self, job, request):
            self.job = job

        def __call__(self):
            return '<em>echoed</em>'
    gsm = zope.component.getGlobalSiteManager()
    gsm.registerAdapter(EchoDetail, (IJob, IBrowserRequest),
                        zope.interface.Interface, 'echo_detail')
    try:
        demo.service.add('echo', 'x')
        demo.commit()
        assert '<em>echoed</em>' in manager.get(JOBS).text
    finally:
        gsm.unregisterAdapter(EchoDetail, (IJob, IBrowserRequest),
                              zope.interface.Interface, 'echo_detail')



def test_cancel_selected_asks_running_jobs_to_stop(manager, demo):
    from zodbtasks import runner
    running = demo.service.add('echo')
    waiting = demo.service.add('echo', startLater=True)
    demo.commit()
    runner.claim(demo.service, demo.tm, 0, 1)
    demo.commit()
    response = _act(manager, 'cancel', ids=[running, waiting])
    assert ('2 of 2 selected jobs cancelled (1 running ones asked to stop '
            'at their next checkpoint).') in response.text
    demo.sync()
    assert demo.service.getStatus(waiting) == 'cancelled'
    assert demo.service.getStatus(running) == 'processing'
    assert running in demo.service._cancel_requests
