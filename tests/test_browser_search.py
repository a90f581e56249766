"""zodbtasks.browser.search: reading the Jobs tab's parameters and what a
page of a search says about what it searched."""
import transaction

from zodbtasks import search
from zodbtasks.browser import search as searching

T0 = 1_700_000_000.0


def _jobs(service, count):
    ids = [service.add('echo', 'word %d' % n, now=T0 + n)
           for n in range(count)]
    transaction.commit()
    return ids


def test_selector_of_reads_and_names_bad_values():
    selector, errors = searching.selector_of({
        'status': 'error', 'q': 'boom', 'created_from': '2023-11-14',
        'finished_to': 'later', 'id': None})
    assert selector == {'status': 'error', 'text': 'boom',
                        'created_from': 1699920000.0}
    assert len(errors) == 1 and errors[0].startswith('Finished to:')


def test_read_params_strips_and_drops_empty_values():
    params = searching.read_params({'q': '  boom ', 'id': '', 'tag': 'x',
                                    'created_to': ['a', 'b']})
    assert params['q'] == 'boom' and params['id'] is None
    assert params['created_to'] is None and 'tag' not in params


def test_a_page_counts_up_to_its_limit(service, tasks, monkeypatch):
    _jobs(service, 8)
    monkeypatch.setattr(search, 'PAGE_LIMIT', 5)
    page = searching.find_page(service, {'created_from': T0}, True, 0, 3)
    assert page['total'] == 5 and not page['exact'] and len(page['ids']) == 3
    assert 'Showing the first 5 matches' in page['note']


def test_a_text_search_says_what_it_searched(service, tasks, monkeypatch):
    ids = _jobs(service, 8)
    page = searching.find_page(service, {'text': 'word 2'}, True, 0, 50)
    assert page['ids'] == [ids[2]] and page['exact']
    assert 'Searched every job of the filter (8 of 8)' in page['note']
    monkeypatch.setattr(search, 'JOB_BUDGET', 3)
    page = searching.find_page(service, {'text': 'word 2'}, True, 0, 50)
    assert page['ids'] == [] and not page['exact']
    assert 'Searched the newest 3 of 8 jobs of the filter' in page['note']


def test_a_short_id_page_says_how_far_it_looked(service, tasks, monkeypatch):
    ids = _jobs(service, 8)
    monkeypatch.setattr(search, 'INDEX_BUDGET', 4)
    page = searching.find_page(service, {'id': str(ids[0])[-6:]}, True, 0,
                               50)
    assert page['ids'] == [] and not page['exact']
    assert 'among the newest 4 entries of the filter' in page['note']
    monkeypatch.setattr(search, 'INDEX_BUDGET', 100)
    page = searching.find_page(service, {'id': str(ids[0])[-6:]}, True, 0,
                               50)
    assert ids[0] in page['ids']


def test_a_walk_out_of_budget_says_where_it_stopped(service, tasks,
                                                   monkeypatch):
    _jobs(service, 8)
    monkeypatch.setattr(search, 'INDEX_BUDGET', 3)
    page = searching.find_page(service, {'created_from': T0}, True, 0, 50)
    assert page['total'] == 3 and not page['exact']
    assert 'Found 3 matches in the first 3 index entries searched, then ' \
        'stopped' in page['note']


def test_bulk_page_counts_the_workers_alive(service, tasks):
    from zope.publisher.browser import TestRequest
    from zodbtasks.browser.bulk import BulkView
    view = BulkView(service, TestRequest())
    assert view.workers_alive() == 0
    service.add('echo', 1, now=T0)
    transaction.commit()
    service.process(now=T0)
    assert view.workers_alive(now=T0 + 1) == 1
    assert view.workers_alive(now=T0 + 10 ** 6) == 0


def test_further_continues_where_the_walk_stopped(service, tasks,
                                                 monkeypatch):
    ids = _jobs(service, 8)
    monkeypatch.setattr(search, 'INDEX_BUDGET', 3)
    page = searching.find_page(service, {'created_from': T0}, True, 0, 50)
    assert page['further'] == {'created_to': '2023-11-14T22:13:25.000Z'}
    assert searching.parse_time(page['further']['created_to'],
                                end=True) == T0 + 5
    page = searching.find_page(service, {'created_from': T0}, False, 0, 50)
    assert page['further'] is None    # oldest first: narrow instead
    assert len(ids) == 8
