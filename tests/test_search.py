"""zodbtasks.search: selectors and the bounded walks over the index."""
import pytest
import transaction

from zodbtasks import search
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.search import Search
from zodbtasks.search import SelectorError
from zodbtasks.search import check_selector

T0 = 1_700_000_000.0


@pytest.fixture
def jobs(service, tasks):
    """20 jobs, one per 10 s from T0: echo (even) and fail (odd) run at
    T0 + 1000 + n; tags 'red' on multiples of 3; 5 more queued."""
    ids = []
    for n in range(20):
        ids.append(service.add('echo' if n % 2 == 0 else 'fail',
                               {'n': n, 'word': 'needle' if n == 4 else 'x'},
                               tag=('red',) if n % 3 == 0 else (),
                               now=T0 + 10 * n))
    transaction.commit()
    for n, jobid in enumerate(ids):
        service.processNext(now=T0 + 1000 + n)
    queued = [service.add('echo', n, now=T0 + 500 + n) for n in range(5)]
    transaction.commit()
    return ids, queued


def _find(service, **selector):
    return list(Search(service, check_selector(selector)).ids())


def test_check_selector_names_the_bad_field():
    with pytest.raises(SelectorError) as info:
        check_selector({'status': 'nope'})
    assert info.value.field == 'status'
    with pytest.raises(SelectorError) as info:
        check_selector({'id': '12'})
    assert info.value.field == 'id' and 'at least 4' in str(info.value)
    with pytest.raises(SelectorError) as info:
        check_selector({'created_from': 20.0, 'created_to': 10.0})
    assert info.value.field == 'created_to'
    with pytest.raises(SelectorError) as info:
        check_selector({'finished_to': float('nan')})
    assert info.value.field == 'finished_to'
    with pytest.raises(SelectorError):
        check_selector({'colour': 'red'})
    with pytest.raises(SelectorError) as info:
        check_selector({'id': '9' * 30})
    assert info.value.field == 'id'
    with pytest.raises(SelectorError) as info:
        check_selector({'text': 'x' * 501})
    assert info.value.field == 'text' and '500' in str(info.value)


def test_check_selector_drops_empty_values():
    assert check_selector({'task': '', 'tag': None, 'status': 'error'}) \
        == {'status': 'error'}


def test_created_range_is_an_id_range():
    low, high = search.id_range({'created_from': 2.0, 'created_to': 3.0})
    assert low == 2000 << RANDOM_BITS
    assert high == (3001 << RANDOM_BITS) - 1


def test_created_range_with_status_newest_first(service, jobs):
    ids, _ = jobs
    found = _find(service, status='error', created_from=T0 + 30,
                  created_to=T0 + 90)
    assert found == [ids[9], ids[7], ids[5], ids[3]]


def test_created_range_oldest_first(service, jobs):
    ids, _ = jobs
    found = list(Search(service, check_selector(
        {'created_from': T0, 'created_to': T0 + 20})).ids(reverse=False))
    assert found == ids[:3]


def test_task_and_tag_in_a_range(service, jobs):
    ids, _ = jobs
    assert _find(service, task='echo', tag='red', created_to=T0 + 130) \
        == [ids[12], ids[6], ids[0]]


def test_unknown_tag_matches_nothing(service, jobs):
    assert _find(service, tag='blue', created_to=T0 + 130) == []


def test_finished_range_in_finish_order(service, jobs):
    ids, _ = jobs
    found = _find(service, finished_from=T0 + 1002, finished_to=T0 + 1005,
                  status='completed')
    assert found == [ids[4], ids[2]]


def test_whole_id_and_its_filters(service, jobs):
    ids, _ = jobs
    assert _find(service, id=str(ids[3])) == [ids[3]]
    assert _find(service, id=str(ids[3]), status='error') == [ids[3]]
    assert _find(service, id=str(ids[3]), status='completed') == []
    assert _find(service, id=str(ids[3] + 1)) == []


def test_short_id_matches_trailing_digits(service, jobs):
    ids, queued = jobs
    short = str(ids[5])[-6:]
    assert ids[5] in _find(service, id=short)
    assert all(str(jobid).endswith(short) for jobid in _find(service,
                                                               id=short))


def test_text_in_input_and_error(service, jobs):
    ids, _ = jobs
    assert _find(service, text='NEEDLE') == [ids[4]]
    assert _find(service, text="'n': 7") == [ids[7]]
    service.jobs[ids[9]].error = 'Boom in the Database'
    assert _find(service, text='boom in the database') == [ids[9]]


def test_budget_stops_the_walk_and_says_so(service, jobs):
    found = Search(service, check_selector({'created_from': T0}), budget=3)
    assert len(list(found.ids())) == 3 and not found.exhausted
    whole = Search(service, check_selector({'created_from': T0}))
    assert len(list(whole.ids())) == 25 and whole.exhausted


def test_job_budget_stops_a_text_search(service, jobs):
    found = Search(service, check_selector({'text': 'needle'}),
                   job_budget=5)
    assert list(found.ids()) == [] and not found.exhausted
    assert found.loaded == 5


def test_continue_after_a_position(service, jobs):
    ids, _ = jobs
    selector = check_selector({'status': 'error', 'created_to': T0 + 200})
    first = Search(service, selector, budget=2)
    assert list(first.ids()) == [ids[19], ids[17]]
    rest = Search(service, selector)
    assert [jobid for _, jobid in rest.keys(after=first.position)] == \
        [ids[n] for n in (15, 13, 11, 9, 7, 5, 3, 1)]


def test_collect_says_whether_it_has_all(service, jobs):
    found, complete = Search(service, check_selector(
        {'status': 'error', 'created_from': T0})).collect(3)
    assert len(found) == 3 and not complete
    found, complete = Search(service, check_selector(
        {'status': 'error', 'created_from': T0})).collect(30)
    assert len(found) == 10 and complete


def test_error_group_without_failures_module_is_ignored(service, jobs,
                                                        monkeypatch):
    monkeypatch.setattr(search, 'group_key_function', lambda: None)
    assert len(_find(service, error_group='x', status='error',
                     created_from=T0)) == 10


def test_error_group_with_a_key_function(service, jobs, monkeypatch):
    ids, _ = jobs
    monkeypatch.setattr(search, 'group_key_function', lambda: (
        lambda job: 'odd' if job.input['n'] % 4 == 1 else 'other'))
    assert _find(service, error_group='odd', status='error',
                 created_from=T0) == [ids[17], ids[13], ids[9], ids[5],
                                      ids[1]]


def test_describe():
    assert search.describe({}) == 'all jobs'
    assert search.describe({'status': 'error', 'created_from': 0.0}) == \
        'status=error, created_from=1970-01-01 00:00:00 UTC'


def test_budget_in_a_leapfrog_resumes_where_it_stopped(service, jobs):
    ids, _ = jobs
    selector = check_selector({'status': 'completed', 'tag': 'red',
                               'created_from': T0})
    found, position = [], None
    for _ in range(100):
        walk = Search(service, selector, budget=2)
        found += [jobid for _, jobid in walk.keys(after=position)]
        if walk.exhausted:
            break
        position = walk.position
    assert found == [ids[n] for n in (18, 12, 6, 0)]


def test_a_task_without_jobs_of_the_status_walks_nothing(service, jobs):
    """The task tally says no echo job failed: no walk by jumps."""
    found = Search(service, check_selector({
        'task': 'echo', 'status': 'error', 'created_from': T0}), budget=1)
    assert list(found.ids()) == [] and found.exhausted
    assert found.examined == 0

