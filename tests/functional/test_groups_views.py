"""The Groups tab, the page of a group (its members paged, the Clean
group button) and the group links of the job page."""
import datetime
import re

import pytest

from zodbtasks.browser import csrf
from zodbtasks.browser import format

from .conftest import SERVICE

GROUPS = SERVICE + '/@@groups.html'
GROUP = SERVICE + '/@@group.html'


def _group_ids(response):
    return [int(i) for i in re.findall(r'id="zt-group-(\d+)"',
                                       response.text)]


def _positions(response):
    return [int(i) for i in re.findall(r'id="zt-member-(\d+)"',
                                       response.text)]


def _group_page(browser, gid, status=200, **params):
    return browser.get(GROUP, dict(params, id=str(gid)), status=status)


def _token(browser, page, **params):
    return browser.get(page, params).html.find(
        'input', attrs={'name': csrf.FIELD})['value']


@pytest.fixture
def three(demo):
    """``done``: three echo members and an echo callback, all completed;
    ``failed``: an echo and a failing member, its callback blocked
    (onFailure 'wait'); ``running``: a member started later, so the
    group runs.  Added in that order."""
    s = demo.service
    done = s.addGroup([('echo', n) for n in (1, 2, 3)],
                      then=('echo', {'sum': True}), now=1000.0)
    failed = s.addGroup([('echo', 'ok'), ('fail', 'broken')],
                        then=('echo', None), now=2000.0)
    running = s.addGroup([{'task': 'echo', 'input': 'later',
                           'startLater': True}], then=('echo', None),
                         now=3000.0)
    demo.commit()
    s.process()
    demo.sync()
    return {'done': done, 'failed': failed, 'running': running}


def test_anonymous_is_refused(anonymous, three):
    for page, params in ((GROUPS, {}), (GROUP, {'id': str(three['done'])})):
        response = anonymous.get(page, params, status=401)
        assert 'basic' in response.headers['WWW-Authenticate'].lower()


def test_groups_is_a_tab(manager, demo):
    response = manager.get(SERVICE + '/@@jobs.html')
    assert re.search(r'href="[^"]*@@groups.html"[^>]*>\s*Groups',
                     response.text)
    assert 'id="zt-groups"' in manager.get(GROUPS).text


def test_the_groups_tab_lists_the_newest_first(manager, demo, three,
                                               monkeypatch):
    monkeypatch.setattr(format, 'ZONE', datetime.timezone.utc)
    response = manager.get(GROUPS)
    assert _group_ids(response) == [three['running'], three['failed'],
                                    three['done']]
    assert response.html.find(id='zt-total').text == '3'
    row = response.html.find(id='zt-group-%d' % three['failed'])
    cells = row.find_all('td')
    assert cells[0].a['href'].endswith('@@group.html?id=%d'
                                       % three['failed'])
    assert cells[1].text == '1970-01-01 00:33:20 UTC'
    assert cells[2].text.strip() == 'failed'
    bar = cells[3].find('progress')
    assert (bar['value'], bar['max']) == ('2', '2')
    assert bar['aria-label'] == '2 of 2, 1 failed'
    assert cells[3].find(class_='zt-progress-text').text == '2 of 2, 1 failed'
    callback = demo.service.getGroup(three['failed']).callbackId
    assert cells[4].a['href'].endswith('/jobs/%d' % callback)
    assert ' '.join(cells[4].text.split()) == 'job %d echo (blocked)' \
        % callback
    done = response.html.find(id='zt-group-%d' % three['done'])
    assert done.find(class_='zt-progress-text').text == '3 of 3'
    assert 'completed' in done.text
    running = response.html.find(id='zt-group-%d' % three['running'])
    assert running.find(class_='zt-progress-text').text == '0 of 1'


def test_the_groups_tab_is_paged(manager, three):
    first = manager.get(GROUPS, {'size': '2'})
    assert _group_ids(first) == [three['running'], three['failed']]
    assert 'Groups 1–2 of' in first.text
    second = first.click(linkid='zt-next')
    assert _group_ids(second) == [three['done']]
    assert second.html.find(id='zt-next') is None
    assert _group_ids(second.click(linkid='zt-previous')) == \
        _group_ids(first)


@pytest.mark.parametrize('params', [
    {'start': 'x', 'size': '-5'}, {'start': '-3', 'size': 'many'},
    {'size': '100000'}, {'start': '99'}])
def test_bad_paging_falls_back_like_the_jobs_tab(manager, three, params):
    response = manager.get(GROUPS, params)
    assert response.status_int == 200
    expected = {'-5': 1, 'many': 3, '100000': 3}.get(params.get('size'), 0)
    assert len(_group_ids(response)) == expected


def test_no_groups(manager, demo):
    assert 'No groups.' in manager.get(GROUPS).text


def test_the_group_page(manager, demo, three):
    gid = three['failed']
    group = demo.service.getGroup(gid)
    page = _group_page(manager, gid)
    assert page.html.find(id='zt-group-status').text == 'failed'
    bar = page.html.find(id='zt-group-progress').find('progress')
    assert (bar['value'], bar['max']) == ('2', '2')
    assert page.html.find(id='zt-on-failure').text == 'wait'
    callback = page.html.find(id='zt-callback')
    assert callback.a['href'].endswith('/jobs/%d' % group.callbackId)
    assert 'blocked' in callback.text
    rows = [[' '.join(cell.text.split()) for cell in
             page.html.find(id='zt-member-%d' % position).find_all('td')]
            for position in (1, 2)]
    assert rows == [
        ['1', str(group.jobIds[0]), 'echo', 'completed', '"ok"'],
        ['2', str(group.jobIds[1]), 'fail', 'error',
         'demo failure: broken']]
    link = page.html.find(id='zt-member-2').a['href']
    assert link.endswith('/jobs/%d' % group.jobIds[1])
    assert page.html.find(id='zt-clean-group') is None
    assert page.html.find(id='zt-not-cleanable').text.startswith(
        'Cannot be cleaned yet: group %d is failed, but its callback job %d '
        'is blocked' % (gid, group.callbackId))


def test_the_members_are_paged(manager, demo):
    gid = demo.service.addGroup([{'task': 'echo', 'input': n,
                                  'startLater': True} for n in range(120)])
    demo.commit()
    page = _group_page(manager, gid)
    assert _positions(page) == list(range(1, 51))
    assert 'Members 1–50 of' in page.text
    page = page.click(linkid='zt-next').click(linkid='zt-next')
    assert _positions(page) == list(range(101, 121))
    assert page.html.find(id='zt-next') is None
    page = _group_page(manager, gid, start='115', size='3')
    assert _positions(page) == [116, 117, 118]
    assert _positions(_group_page(manager, gid, start='x', size='-1')) == [1]
    assert _positions(_group_page(manager, gid, start='500')) == []


def test_results_and_errors_are_escaped(manager, demo):
    hostile = '<script>alert("x")</script>'
    gid = demo.service.addGroup([('echo', hostile), ('fail', hostile)])
    demo.commit()
    demo.service.process()
    page = _group_page(manager, gid)
    assert '<script>alert' not in page.text
    assert '&lt;script&gt;alert' in page.text
    member = page.html.find(id='zt-member-1').find_all('td')[4].text
    assert member == '"<script>alert(\\"x\\")</script>"'
    assert page.html.find(id='zt-member-2').find(
        class_='zt-outcome-error').text \
        == 'demo failure: ' + hostile


def test_a_long_result_is_shortened(manager, demo):
    gid = demo.service.addGroup([('echo', 'y' * 500)])
    demo.commit()
    demo.service.process()
    cell = _group_page(manager, gid).html.find(id='zt-member-1') \
        .find_all('td')[4].text
    assert len(cell) == 80 and cell.endswith('…')


@pytest.mark.parametrize('asked', ['42', 'nosuch', '<b>bold</b>', ''])
def test_an_unknown_group_is_not_found(manager, three, asked):
    page = manager.get(GROUP, {'id': asked}, status=404)
    assert page.html.find('h1').text == 'No such group'
    assert 'There is no group' in page.html.find(id='zt-not-found').text
    assert '<b>bold' not in page.text
    if asked == '<b>bold</b>':
        assert '&lt;b&gt;bold' in page.text


def test_a_group_page_without_id_is_not_found(manager, three):
    manager.get(GROUP, status=404)


def test_the_clean_button_cleans_and_goes_back_to_the_groups(
        manager, demo, three):
    gid = three['done']
    group = demo.service.getGroup(gid)
    jobs = group.jobIds + (group.callbackId,)
    page = _group_page(manager, gid)
    assert page.html.find(id='zt-not-cleanable') is None
    response = page.forms['zt-clean-group'].submit('clean', status=302)
    assert response.headers['Location'].endswith(
        '@@groups.html?cleaned=%d&removed=4' % gid)
    listing = response.follow()
    assert listing.html.find(id='zt-message').text == \
        'Group %d cleaned: 4 jobs removed.' % gid
    assert gid not in _group_ids(listing)
    demo.sync()
    assert not any(jobid in demo.service.jobs for jobid in jobs)
    assert demo.service.checkIndex() == []
    _group_page(manager, gid, status=404)


def test_the_clean_message_shows_numbers_only(manager, three):
    response = manager.get(GROUPS, {'cleaned': '<b>1</b>', 'removed': '2'})
    assert response.html.find(id='zt-message') is None


def test_no_clean_button_for_a_running_group(manager, three):
    page = _group_page(manager, three['running'])
    assert page.html.find(id='zt-clean-group') is None
    assert 'is running (0 of 1 members finished)' in page.html.find(
        id='zt-not-cleanable').text


def test_cleaning_a_running_group_is_refused(manager, demo, three):
    gid = three['running']
    response = manager.post(GROUP, {
        'id': str(gid), 'clean': 'Clean group',
        csrf.FIELD: _token(manager, SERVICE + '/@@jobs.html')}, status=409)
    assert response.html.find(id='zt-problem').text.startswith(
        'group %d is running' % gid)
    demo.sync()
    assert demo.service.getGroup(gid).id == gid


def test_a_post_without_csrf_token_is_refused(manager, demo, three):
    gid = three['done']
    response = manager.post(GROUP, {'id': str(gid), 'clean': 'Clean group'},
                            status=403)
    assert 'CSRF' in response.html.find(id='zt-problem').text
    demo.sync()
    assert demo.service.getGroup(gid).id == gid
    assert all(jobid in demo.service.jobs
               for jobid in demo.service.getGroup(gid).jobIds)


def test_a_get_never_cleans(manager, demo, three):
    _group_page(manager, three['done'], clean='Clean group')
    demo.sync()
    assert demo.service.getGroup(three['done']).id == three['done']


def test_a_viewer_sees_groups_but_cannot_clean(viewer, demo, three):
    gid = three['done']
    assert _group_ids(viewer.get(GROUPS)) == [three['running'],
                                              three['failed'], gid]
    page = _group_page(viewer, gid)
    assert page.html.find(id='zt-clean-group') is None
    assert page.html.find(id='zt-not-cleanable') is None
    token = _token(viewer, SERVICE + '/@@jobs.html')
    response = viewer.post(GROUP, {'id': str(gid), 'clean': 'Clean group',
                                   csrf.FIELD: token}, status=403)
    assert 'may view jobs but not manage' in response.text
    demo.sync()
    assert demo.service.getGroup(gid).id == gid


def test_the_job_page_links_to_the_group(manager, demo, three):
    gid = three['failed']
    group = demo.service.getGroup(gid)
    member = manager.get('%s/%d' % (SERVICE, group.jobIds[1]))
    cell = member.html.find(id='zt-job-group')
    assert ' '.join(cell.text.split()) == 'member 2 of group %d' % gid
    assert cell.a['href'].endswith('@@group.html?id=%d' % gid)
    callback = manager.get('%s/%d' % (SERVICE, group.callbackId))
    cell = callback.html.find(id='zt-job-group')
    assert ' '.join(cell.text.split()) == 'callback of group %d' % gid
    assert cell.a['href'].endswith('@@group.html?id=%d' % gid)
    alone = demo.service.add('echo', 'alone')
    demo.commit()
    assert manager.get('%s/%d' % (SERVICE, alone)).html.find(
        id='zt-job-group') is None


def test_a_job_of_a_cleaned_group_says_so(manager, demo, three):
    gid = three['done']
    member = demo.service.getGroup(gid).jobIds[0]
    del demo.service._groups[gid]       # a record lost (or cleaned)
    demo.commit()
    cell = manager.get('%s/%d' % (SERVICE, member)).html.find(
        id='zt-job-group')
    assert ' '.join(cell.text.split()) == \
        'member 1 of group %d (cleaned)' % gid
    assert cell.a is None
