"""The Jobs tab's search: its URL parameters, read into a selector
(``zodbtasks.search``), and one page of what a search finds.

Parameters (besides ``status``, ``task``, ``tag``, ``sort``, ``order``,
``start``, ``size``): ``q`` (text in the input's repr or the error),
``id`` (a whole job id, or its last 4 to 9 digits), ``created_from``,
``created_to``, ``finished_from``, ``finished_to`` (ISO dates or times,
as a ``datetime-local`` input sends them; UTC unless they carry an
offset such as ``+02:00`` or ``Z``; a date alone as an end means the
whole day, a time without seconds the whole minute) and ``error_group``
(a key of the Failures tab).  A bad value is dropped and named in the
page's error; the rest of the search still applies.

A search's total is exact when every match was walked; a page collects
up to ``search.PAGE_LIMIT`` matches and looks at a bounded number of
candidates (``search.INDEX_BUDGET`` index entries, ``search.JOB_BUDGET``
jobs for a text), and the page says what it searched.
"""
import datetime
import re

from zodbtasks import search
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.search import SelectorError

#: URL parameter -> (selector key, label for errors).
PARAMS = (('q', 'text', 'Text'), ('id', 'id', 'Job id'),
          ('created_from', 'created_from', 'Created from'),
          ('created_to', 'created_to', 'Created to'),
          ('finished_from', 'finished_from', 'Finished from'),
          ('finished_to', 'finished_to', 'Finished to'),
          ('error_group', 'error_group', 'Error group'))
NAMES = tuple(name for name, _, _ in PARAMS)
LABELS = {key: label for _, key, label in PARAMS}
LABELS.update(status='Status', task='Task', tag='Tag')
_DATE_ONLY = re.compile(r'^\d{4}-\d{2}-\d{2}$')
_NO_SECONDS = re.compile(r'^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(Z|[+-].*)?$')


def parse_time(text, end=False):
    """Epoch seconds of an ISO date or time (UTC unless it has an
    offset); with ``end``, the last moment of a date's day or of a
    minute; ValueError for anything else."""
    text = text.strip()
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    epoch = when.timestamp()
    if end and _DATE_ONLY.match(text):
        epoch += 86400 - 0.001
    elif end and _NO_SECONDS.match(text):
        epoch += 60 - 0.001
    return epoch


def read_params(form):
    """The search parameters of ``form`` (name -> stripped string, or
    None when empty or not a string)."""
    found = {}
    for name in NAMES:
        value = form.get(name)
        value = value.strip() if isinstance(value, str) else ''
        found[name] = value or None
    return found


def selector_of(params):
    """(selector, errors) of the Jobs tab's parameters (``params`` of
    JobsView): every bad value is left out and has its message."""
    selector, errors = {}, []
    for family in ('status', 'task', 'tag'):
        if params.get(family):
            selector[family] = params[family]
    for name, key, label in PARAMS:
        text = params.get(name)
        if text is None:
            continue
        if key.endswith(('_from', '_to')):
            try:
                value = parse_time(text, end=key.endswith('_to'))
            except (ValueError, OverflowError, OSError):
                errors.append('%s: %r is not a date or time (write it as '
                              '2026-12-01 or 2026-12-01T14:30, UTC unless '
                              'it ends with an offset such as +01:00).'
                              % (label, text))
                continue
        else:
            value = text
        try:
            search.check_selector({key: value})
        except SelectorError as exc:
            errors.append('%s: %s.' % (label, str(exc).split(': ', 1)[1]))
            continue
        selector[key] = value
    try:
        selector = search.check_selector(selector)
    except SelectorError as exc:   # a range whose end is before its start
        errors.append('%s: %s.' % (LABELS[exc.field],
                                   str(exc).split(': ', 1)[1]))
        selector.pop(exc.field)
    return selector, errors


def find_page(service, selector, reverse, start, size):
    """One page of a search: {'total', 'exact', 'ids', 'note'}."""
    found = search.Search(service, selector, budget=search.INDEX_BUDGET,
                          job_budget=search.JOB_BUDGET)
    ids, exact = found.collect(search.PAGE_LIMIT, reverse=reverse)
    notes = ['Sorted by finish time.' if found.by_time else
             'Sorted by id (creation time).']
    if 'error_group' in selector and found.group_key is None:
        notes.append('Error groups need zodbtasks.failures, which is not '
                     'installed: the error group was left out.')
    jobs_checked = 'text' in selector or found.group_key is not None
    short = selector.get('id')
    if short is not None and len(short) < search.WHOLE_ID_DIGITS \
            and not found.exhausted:
        notes.append('The short id was looked for among the newest %s '
                     'entries of the filter: give the whole id (shown '
                     'when you hover a short one) to find any job.'
                     % '{:,}'.format(found.examined))
    elif jobs_checked:
        notes.append(_searched(service, selector, found, exact))
    elif not found.exhausted:
        notes.append('Found %s matches in the first %s index entries '
                     'searched, then stopped: narrow the filter or the '
                     'time range to search further.' % (
                         '{:,}'.format(len(ids)),
                         '{:,}'.format(found.examined)))
    if not exact and found.exhausted:
        notes.append('Showing the first {:,} matches: narrow the search '
                     'to see the others.'.format(len(ids)))
    return {'total': len(ids), 'exact': exact,
            'ids': ids[start:start + size], 'note': ' '.join(notes),
            'further': further(found, exact, reverse)}


def further(found, exact, reverse):
    """The parameter that continues a search that stopped, newest first,
    with older jobs (``{'created_to': iso}`` or ``{'finished_to': iso}``:
    where it stopped; the jobs of that millisecond are looked at again),
    or None."""
    if exact or not reverse or found.position is None:
        return None
    if found.by_time:
        name, when = 'finished_to', found.position[0]
    else:
        name, when = 'created_to', (found.position >> RANDOM_BITS) / 1000
    return {name: datetime.datetime.fromtimestamp(
        when, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]
        + 'Z'}


def _searched(service, selector, found, exact):
    """"Searched the newest N of M jobs" of a text or error group."""
    rest = {key: value for key, value in selector.items()
            if key not in ('text', 'error_group')}
    of = ''
    if not search.is_search(rest):
        total, _ = service._index.query(
            service.jobs, status=rest.get('status'), task=rest.get('task'),
            tag=rest.get('tag'), size=0)
        of = ' of %s' % format(total, ',')
    which = 'most recently finished' if found.by_time else 'newest'
    if exact:
        return 'Searched every job of the filter (%s%s).' % (
            format(found.loaded, ','), of)
    return 'Searched the %s %s%s jobs of the filter (text search looks ' \
        'at %s jobs per page at most: narrow the filter or the time ' \
        'range to search further).' % (which, format(found.loaded, ','), of,
                                       format(search.JOB_BUDGET, ','))
