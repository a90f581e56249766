"""The Jobs tab's search: text, id, short id, created and finished ranges,
combined with the filters; bad values named, the page still shown."""
import re

import pytest

from .conftest import SERVICE
from zodbtasks.browser.search import parse_time

JOBS = SERVICE + '/@@jobs.html'
DAY = 86400.0
T0 = 1_764_547_200.0   # 2025-12-01 00:00 UTC


def _ids(response):
    return [int(i) for i in re.findall(r'id="zt-job-(\d+)"', response.text)]


@pytest.fixture
def days(demo):
    """Three jobs a day on 2025-12-01, -02, -03 (echo 'apple <day>',
    fail 'pear <day>', echo 'plum <day>' queued); the first two of each
    day ran at noon of their day."""
    s = demo.service
    made = {}
    for day in range(3):
        start = T0 + day * DAY
        made[day] = [s.add('echo', 'apple %d' % day, now=start + 60),
                     s.add('fail', 'pear %d' % day, now=start + 120)]
        demo.commit()
        s.process(now=start + DAY / 2)
        made[day].append(s.add('echo', 'plum %d' % day, startLater=True,
                               now=start + 180))
        demo.commit()
    return made


def test_parse_time_reads_iso_and_offsets():
    assert parse_time('2025-12-01') == T0
    assert parse_time('2025-12-01T01:00+01:00') == T0
    assert parse_time('2025-12-01 00:00Z') == T0
    assert parse_time('2025-12-01', end=True) == T0 + DAY - 0.001
    assert parse_time('2025-12-01T00:00', end=True) == T0 + 60 - 0.001
    assert parse_time('2025-12-01T00:00:30', end=True) == T0 + 30
    with pytest.raises(ValueError):
        parse_time('yesterday')


def test_created_range_of_one_day(manager, days):
    response = manager.get(JOBS, {'created_from': '2025-12-02',
                                  'created_to': '2025-12-02'})
    assert _ids(response) == list(reversed(days[1]))
    assert response.html.find(id='zt-total').text == '3'
    assert 'Sorted by id' in response.html.find(id='zt-search-note').text


def test_created_range_with_status_and_task(manager, days):
    response = manager.get(JOBS, {'created_from': '2025-12-02',
                                  'status': 'error', 'task': 'fail'})
    assert _ids(response) == [days[2][1], days[1][1]]


def test_created_range_oldest_first(manager, days):
    response = manager.get(JOBS, {'created_to': '2025-12-01T23:59',
                                  'order': 'asc'})
    assert _ids(response) == days[0]


def test_finished_range_sorted_by_finish_time(manager, days):
    response = manager.get(JOBS, {'finished_from': '2025-12-02T00:00',
                                  'finished_to': '2025-12-03T23:00'})
    found = _ids(response)
    assert set(found) == set(days[1][:2] + days[2][:2])
    assert 'Sorted by finish time' in response.text


def test_whole_id_and_short_id(manager, days):
    jobid = days[1][1]
    assert _ids(manager.get(JOBS, {'id': str(jobid)})) == [jobid]
    short = manager.get(JOBS, {'id': str(jobid)[-6:]})
    assert jobid in _ids(short)
    assert all(str(i).endswith(str(jobid)[-6:]) for i in _ids(short))


def test_text_in_input_and_error(manager, days):
    response = manager.get(JOBS, {'q': 'PEAR 1'})
    assert _ids(response) == [days[1][1]]
    note = response.html.find(id='zt-search-note').text
    assert 'Searched every job of the filter (9 of 9)' in ' '.join(
        note.split())
    # the error text of the failed jobs
    errors = manager.get(JOBS, {'q': 'DEMO failure'})
    assert set(_ids(errors)) == {days[d][1] for d in range(3)}


def test_text_with_status(manager, days):
    response = manager.get(JOBS, {'q': 'apple', 'status': 'completed'})
    assert _ids(response) == [days[2][0], days[1][0], days[0][0]]


def test_search_keeps_its_parameters_in_links(manager, days):
    response = manager.get(JOBS, {'q': 'a', 'size': '1',
                                  'created_from': '2025-12-01'})
    link = response.html.find(id='zt-next')['href']
    assert 'q=a' in link and 'created_from=2025-12-01' in link
    assert len(_ids(manager.get(link))) == 1


def test_search_form_shows_the_values(manager, days):
    form = manager.get(JOBS, {'q': 'plum', 'created_to': '2025-12-03'}) \
        .forms['zt-filter']
    assert form['q'].value == 'plum'
    assert form['created_to'].value == '2025-12-03'
    form['q'] = 'apple'
    assert len(_ids(form.submit())) == 3


def test_bad_time_is_named_and_the_rest_applies(manager, days):
    response = manager.get(JOBS, {'created_from': 'last tuesday',
                                  'task': 'fail'})
    problem = response.html.find(id='zt-problem').text
    assert 'Created from' in problem and 'last tuesday' in problem
    assert set(_ids(response)) == {days[d][1] for d in range(3)}


def test_bad_id_and_reversed_range_are_named(manager, days):
    response = manager.get(JOBS, {'id': '12x'})
    assert 'Job id' in response.html.find(id='zt-problem').text
    response = manager.get(JOBS, {'created_from': '2025-12-03',
                                  'created_to': '2025-12-01'})
    assert 'Created to: is before created from' in \
        response.html.find(id='zt-problem').text


def test_user_text_is_escaped(manager, days):
    response = manager.get(JOBS, {'q': '<script>alert(1)</script>'})
    assert '<script>alert(1)' not in response.text
    assert _ids(response) == []


def test_viewer_may_search(viewer, days):
    response = viewer.get(JOBS, {'q': 'apple'})
    assert len(_ids(response)) == 3


def test_live_json_follows_the_search(manager, days):
    data = manager.get(SERVICE + '/@@jobs.json', {'q': 'plum'}).json
    assert data['total'] == 3
    assert {row['id'] for row in data['rows']} == {days[d][2]
                                                   for d in range(3)}


def test_clean_starts_with_nothing_checked(manager, days):
    form = manager.get(JOBS).forms['zt-jobs-form']
    assert not any(field.checked
                   for field in form.fields['clean_status:list'])


def test_cancel_all_says_cron_jobs_are_included(manager, demo, days):
    demo.service.addCronJob('echo', 'tick', minute=(5,))
    demo.commit()
    button = manager.get(JOBS).html.find(id='zt-cancel-all')
    assert button['value'] == \
        'Cancel all 4 waiting (cron jobs included: 1)'


def test_the_sort_mark_shows_the_search_order(manager, days):
    response = manager.get(JOBS, {'q': 'apple', 'sort': 'task'})
    assert '▼' in response.html.find('a', class_='zt-sort-id').text
    assert '▼' not in response.html.find('a', class_='zt-sort-task').text
    response = manager.get(JOBS, {'finished_from': '2025-12-01'})
    assert '▼' in response.html.find('a', class_='zt-sort-completed').text


def test_a_stopped_search_goes_on_in_older_jobs(manager, days, monkeypatch):
    from zodbtasks import search
    monkeypatch.setattr(search, 'JOB_BUDGET', 4)
    everything = [jobid for day in (2, 1, 0) for jobid in reversed(days[day])]
    seen, response = [], manager.get(JOBS, {'q': 'e'})   # apple, pear
    for _ in range(5):
        seen += _ids(response)
        further = response.html.find(id='zt-search-further')
        if further is None:
            break
        assert 'created_to=' in further['href'] and 'q=e' in further['href']
        response = manager.get(further['href'])
    expected = [jobid for jobid in everything
                if jobid not in {days[d][2] for d in range(3)}]
    assert [jobid for jobid in seen if jobid in expected] == expected
    assert len(set(seen)) == len(seen)
