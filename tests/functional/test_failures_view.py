"""The Failures tab: failed jobs grouped by kind, and retry-all /
delete-all per group after a confirmation (POST, CSRF, ManageJobs)."""
import pytest

from zodbtasks import failures
from zodbtasks.browser import csrf
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import QUEUED

from .conftest import SERVICE

PAGE = SERVICE + '/@@failures.html'


@pytest.fixture
def failed(demo):
    """Three jobs failing alike (numbers differ), one failing otherwise,
    one completed."""
    service = demo.service
    alike = [service.add('fail', 'printer %d' % number)
             for number in (1, 22, 333)]
    other = service.add('fail', "no file '/tmp/x'")
    service.add('echo', 'fine')
    demo.commit()
    service.process()
    demo.sync()
    return {'alike': alike, 'other': other}


def _groups(page):
    return [(tr.find(class_='zt-count').text,
             tr.find(class_='zt-type').text,
             tr.find(class_='zt-pattern').text)
            for tr in page.html.find_all(class_='zt-failure-group')]


def _group_form(page, index):
    forms = [form for form in page.forms.values()
             if 'group' in form.fields]
    return forms[index]


def test_failed_jobs_are_grouped_by_type_and_pattern(manager, failed):
    page = manager.get(PAGE)
    assert _groups(page) == [
        ('3', 'TaskError', 'demo failure: printer <n>'),
        ('1', 'TaskError', 'demo failure: no file <str>')]
    assert 'zt-failures-capped' not in page.text
    summary = page.html.find(id='zt-failures-summary').text
    assert '4' in summary and 'failed jobs' in summary


def test_a_group_shows_tasks_times_and_its_jobs(manager, failed):
    row = manager.get(PAGE).html.find(id='zt-group-0')
    assert row.find(class_='zt-tasks').a.text == 'fail'
    assert 'status=error' in row.find(class_='zt-tasks').a['href']
    first, last = row.find(class_='zt-first-seen'), row.find(
        class_='zt-last-seen')
    assert first['datetime'].endswith('Z') and first['title']
    assert last.text.endswith('ago') or last.text == 'just now'
    links = row.find(class_='zt-group-jobs').find_all('a', attrs={
        'data-copy': True})
    assert sorted(int(a['title']) for a in links) == sorted(failed['alike'])
    assert all(a.text == '…' + a['title'][-6:] for a in links)
    assert 'e.g. demo failure: printer' in row.find(class_='zt-example').text


def test_no_failures(manager, demo):
    page = manager.get(PAGE)
    assert page.html.find(id='zt-no-failures') is not None
    assert page.html.find(id='zt-failure-groups') is None


def test_the_tab_is_in_the_service_menu(manager, demo):
    page = manager.get(SERVICE + '/@@jobs.html')
    tabs = page.html.find(class_='itemViews').find_all('a')
    assert ('Failures', '@@failures.html') in [
        (a.text.strip(), a['href']) for a in tabs]


def test_retry_all_asks_first_and_names_the_count(manager, demo, failed):
    page = manager.get(PAGE)
    confirm = _group_form(page, 0).submit('action', index=0)
    assert confirm.html.find(id='zt-confirm').strong.text \
        == 'Retry 3 failed jobs?'
    demo.sync()
    assert {demo.service.getStatus(j) for j in failed['alike']} == {ERROR}
    done = confirm.forms['zt-confirm'].submit('confirm')
    assert done.html.find(id='zt-message').text == '3 failed jobs queued again.'
    demo.sync()
    assert {demo.service.getStatus(j) for j in failed['alike']} == {QUEUED}
    assert demo.service.getStatus(failed['other']) == ERROR
    assert _groups(done) == [('1', 'TaskError',
                              'demo failure: no file <str>')]


def test_delete_all_deletes_the_group_only(manager, demo, failed):
    page = manager.get(PAGE)
    confirm = _group_form(page, 1).submit('action', index=1)
    assert confirm.html.find(id='zt-confirm').strong.text \
        == 'Delete 1 failed jobs?'
    done = confirm.forms['zt-confirm'].submit('confirm')
    assert done.html.find(id='zt-message').text == '1 failed jobs deleted.'
    demo.sync()
    assert failed['other'] not in demo.service.jobs
    assert all(j in demo.service.jobs for j in failed['alike'])


def test_a_group_gone_meanwhile_is_said(manager, demo, failed):
    page = manager.get(PAGE)
    confirm = _group_form(page, 1).submit('action', index=1)
    demo.service.delete(failed['other'])
    demo.commit()
    done = confirm.forms['zt-confirm'].submit('confirm')
    assert 'No failed jobs of this kind are left' in \
        done.html.find(id='zt-problem').text


def test_actions_need_the_token(manager, demo, failed):
    key = failures.group_key(demo.service.jobs[failed['other']])
    manager.post(PAGE, {'group': key, 'action': 'delete',
                        'confirm': 'Delete'}, status=403)
    demo.sync()
    assert failed['other'] in demo.service.jobs


def test_actions_from_another_site_are_refused(manager, demo, failed):
    key = failures.group_key(demo.service.jobs[failed['other']])
    token = manager.get(PAGE).html.find(
        'input', attrs={'name': csrf.FIELD})['value']
    manager.post(PAGE, {'group': key, 'action': 'delete',
                        'confirm': 'Delete', csrf.FIELD: token},
                 headers={'Origin': 'http://evil.example'}, status=403)
    demo.sync()
    assert failed['other'] in demo.service.jobs


def test_a_viewer_sees_the_groups_without_actions(viewer, demo, failed):
    page = viewer.get(PAGE)
    assert len(_groups(page)) == 2
    assert page.html.find(class_='zt-group-actions') is None
    token = page.html.find('input', attrs={'name': csrf.FIELD})
    assert token is None


def test_a_viewer_cannot_act(viewer, manager, demo, failed):
    key = failures.group_key(demo.service.jobs[failed['other']])
    token = viewer.get(SERVICE + '/@@jobs.html').forms['zt-jobs-form'][
        csrf.FIELD].value
    response = viewer.post(PAGE, {'group': key, 'action': 'delete',
                                  'confirm': 'Delete', csrf.FIELD: token},
                           status=403)
    assert 'may view jobs but not manage' in response.text
    demo.sync()
    assert failed['other'] in demo.service.jobs


def test_a_bad_action_is_refused_naming_the_fields(manager, demo, failed):
    token = manager.get(PAGE).html.find(
        'input', attrs={'name': csrf.FIELD})['value']
    page = manager.post(PAGE, {'group': 'x', 'action': 'explode',
                               csrf.FIELD: token}, status=400)
    assert 'retry or delete' in page.html.find(id='zt-problem').text


def test_user_data_is_escaped(manager, demo):
    demo.service.add('fail', '<script>alert(1)</script>')
    demo.commit()
    demo.service.process()
    page = manager.get(PAGE)
    assert '<script>alert' not in page.text
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page.text


def test_the_anonymous_user_is_challenged(anonymous, demo):
    anonymous.get(PAGE, status=401)


def test_the_page_has_the_security_headers(manager, demo):
    response = manager.get(PAGE)
    assert response.headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert "script-src 'self';" in response.headers['Content-Security-Policy']


def test_the_page_says_when_the_scan_was_capped(manager, demo, failed,
                                                monkeypatch):
    monkeypatch.setattr(failures, 'SCAN_LIMIT', 2)
    page = manager.get(PAGE)
    assert 'only the newest 2 were grouped' in page.html.find(
        id='zt-failures-capped').text
    assert sum(int(count) for count, _, _ in _groups(page)) == 2
    confirm = _group_form(page, 0).submit('action', index=0)
    assert confirm.html.find(id='zt-confirm').strong.text.startswith(
        'Retry at least ')


def test_a_group_lists_its_jobs_in_the_jobs_tab(manager, failed):
    row = manager.get(PAGE).html.find(id='zt-group-0')
    href = row.find('a', class_='zt-group-search')['href']
    assert 'error_group=' in href and 'status=error' in href
    page = manager.get(href)
    ids = {int(tr['id'][len('zt-job-'):])
           for tr in page.html.find_all('tr', id=True)
           if tr['id'].startswith('zt-job-')}
    assert ids == set(failed['alike'])


def test_a_large_group_is_retried_by_a_bulk_job(manager, demo, failed,
                                                 monkeypatch):
    monkeypatch.setattr(failures, 'DIRECT_LIMIT', 2)
    page = manager.get(PAGE)
    confirm = _group_form(page, 0).submit('action', value='retry')
    done = confirm.forms['zt-failure-confirm'].submit('confirm') \
        if 'zt-failure-confirm' in confirm.forms else \
        [f for f in confirm.forms.values() if 'confirm' in f.fields][0] \
        .submit('confirm')
    text = done.text
    demo.sync()
    bulk_jobs = [job for job in demo.service.jobs.values()
                 if job.task == 'zodbtasks.bulk']
    assert bulk_jobs, text
    before = {jobid: len(demo.service.jobs[jobid].history)
              for jobid in failed['alike'] + [failed['other']]}
    demo.service.process()   # the bulk job, then the retried jobs again
    demo.sync()
    assert all(demo.service.getStatus(job.id) == 'completed'
               for job in bulk_jobs)
    runs = {jobid: len(demo.service.jobs[jobid].history) - before[jobid]
            for jobid in before}
    assert [runs[jobid] for jobid in failed['alike']] == [1, 1, 1]
    assert runs[failed['other']] == 0


def test_a_capped_page_offers_to_group_more(manager, demo, failed,
                                             monkeypatch):
    monkeypatch.setattr(failures, 'SCAN_LIMIT', 2)
    monkeypatch.setattr(failures, 'MAX_SCAN', 20)
    page = manager.get(PAGE)
    more = page.html.find(id='zt-failures-more')['href']
    assert more.endswith('@@failures.html?scan=20')
    page = manager.get(more)
    assert sum(int(count) for count, _, _ in _groups(page)) == 4
    assert page.html.find(id='zt-failures-capped') is None
    page = manager.get(PAGE, {'scan': '999999'})          # bounded
    assert sum(int(count) for count, _, _ in _groups(page)) == 4
    page = manager.get(PAGE, {'scan': 'all'})             # ignored
    assert sum(int(count) for count, _, _ in _groups(page)) == 2
