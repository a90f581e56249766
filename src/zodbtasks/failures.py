"""Failed jobs grouped by what went wrong (the Failures tab, issue 12).

``group_key(job)`` names a failure's kind: its exception type and its
message pattern, the error's first line with what differs between
occurrences of one failure (times, numbers, hex values, quoted strings,
UUIDs, paths) replaced by placeholders: ``ValueError: bad input <str>``.
An error without a ``Type: `` prefix (a ``TaskError``'s message, a lost
worker, a passed deadline) takes the type from its traceback's last line
when there is one, else the label NO_TYPE.  ``zodbtasks.bulk`` selects
the jobs of a group by this key (selector ``{'status': 'error',
'error_group': key}``): it must stay a pure function of the job.

``group_failures(service, limit)`` groups the jobs in status ``error``,
newest first, scanning at most ``limit`` of them (the index's status set;
the scan loads each job it reads): per group its key, an example
message, the count, first and last seen (finish times), the tasks and
the ids.  ``Summary.capped`` says when older failed jobs were left out.

Design note: the groups are computed when the tab is shown, not kept in
an index updated by every failing run: an index keyed by message pattern
would add a write per failure to a shared object, and the patterns may
be refined later without a migration.  The scan is bounded instead.
"""
import collections
import re

from zodbtasks.interfaces import ERROR

#: Failed jobs read at most per grouping (newest first).
SCAN_LIMIT = 5000
#: The most failed jobs a page may ask to be grouped (``?scan=``).
MAX_SCAN = 100000
#: Characters of a message pattern kept.
PATTERN_LIMIT = 200
#: The type of an error that names none.
NO_TYPE = '(no exception type)'

_TYPED = re.compile(r'^((?:[A-Za-z_]\w*\.)*[A-Z]\w*): ?(.*)$')
#: (pattern, placeholder), applied in this order.
_VARIABLE = tuple((re.compile(pattern), placeholder) for pattern, placeholder
                  in (
    (r'\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d'
     r'| ?UTC)?', '<time>'),
    (r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", '<str>'),
    (r'\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-'
     r'[0-9a-fA-F]{12}\b', '<uuid>'),
    (r'\b0x[0-9a-fA-F]+\b', '<hex>'),
    (r'(?<![\w/\\.])(?:[A-Za-z]:)?(?:[/\\][\w.@%+~-]+){2,}[/\\]?', '<path>'),
    (r'\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{6,}\b',
     '<hex>'),
    (r'(?<![\w.])[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])', '<n>'),
))

Group = collections.namedtuple(
    'Group', 'key type pattern example count first_seen last_seen tasks '
             'ids')
Summary = collections.namedtuple('Summary', 'groups scanned capped total')


def first_line(text):
    """The first non-empty line of ``text`` ('' for none)."""
    for line in str(text or '').splitlines():
        if line.strip():
            return line.strip()
    return ''


def _traceback_type(traceback_text):
    """The exception type named by a traceback's last line, or None."""
    lines = [line for line in str(traceback_text or '').splitlines()
             if line.strip()]
    if not lines or lines[-1].startswith(' '):
        return None
    match = _TYPED.match(lines[-1].strip())
    if match is None:
        bare = re.match(r'^((?:[A-Za-z_]\w*\.)*[A-Z]\w*)$', lines[-1].strip())
        return bare.group(1).rsplit('.', 1)[-1] if bare else None
    return match.group(1).rsplit('.', 1)[-1]


def split_error(job):
    """(type, message) of ``job``'s error (see the module)."""
    line = first_line(job.error)
    match = _TYPED.match(line)
    if match is not None:
        return match.group(1), match.group(2)
    return _traceback_type(job.traceback) or NO_TYPE, line


def pattern(message):
    """``message`` with its variable parts replaced by placeholders."""
    for regex, placeholder in _VARIABLE:
        message = regex.sub(placeholder, message)
    message = ' '.join(message.split())
    if len(message) > PATTERN_LIMIT:
        message = message[:PATTERN_LIMIT - 1] + '…'
    return message


def group_key(job):
    """The kind of ``job``'s failure: ``'<type>: <message pattern>'``."""
    kind, message = split_error(job)
    return '%s: %s' % (kind, pattern(message))


def group_failures(service, limit=None):
    """The failed jobs of ``service`` in groups (a ``Summary``), the
    largest group first (then the most recent); at most ``limit`` (None:
    SCAN_LIMIT) jobs read."""
    limit = SCAN_LIMIT if limit is None else limit
    index, jobs = service._index, service.jobs
    found = collections.OrderedDict()
    scanned = 0
    for jobid in index.by_status.ids(ERROR, reverse=True):
        if scanned >= limit:
            break
        job = jobs.get(jobid)
        if job is None or job.status != ERROR:
            continue  # an index entry not folded yet
        scanned += 1
        key = group_key(job)
        group = found.get(key)
        if group is None:
            kind, message = split_error(job)
            group = found[key] = {
                'key': key, 'type': kind, 'pattern': key[len(kind) + 2:],
                'example': first_line(job.error), 'count': 0,
                'first_seen': None, 'last_seen': None,
                'tasks': collections.Counter(), 'ids': []}
        _count(group, job)
    total = index.by_status.count(ERROR)
    groups = [Group(tasks=sorted(g.pop('tasks')), **g)
              for g in found.values()]
    groups.sort(key=lambda g: (-g.count, -(g.last_seen or 0)))
    return Summary(groups, scanned, scanned >= limit and total > scanned,
                   total)


def _count(group, job):
    group['count'] += 1
    group['ids'].append(job.id)
    group['tasks'][job.task] += 1
    seen = job.completed
    if seen is not None:
        if group['first_seen'] is None or seen < group['first_seen']:
            group['first_seen'] = seen
        if group['last_seen'] is None or seen > group['last_seen']:
            group['last_seen'] = seen


def find_group(service, key, limit=None):
    """The group of failures with ``key`` (a ``Group``) and the summary
    it is part of, or (None, summary)."""
    summary = group_failures(service, limit)
    for group in summary.groups:
        if group.key == key:
            return group, summary
    return None, summary


# -- acting on a group ------------------------------------------------------

#: Jobs of a group acted on directly in one request's transaction; a
#: larger group is handed to the bulk actions (zodbtasks.bulk).
DIRECT_LIMIT = 500
ACTIONS = ('retry', 'delete')

Outcome = collections.namedtuple('Outcome', 'acted count message')


def act_on_group(service, key, action, now=None, limit=None):
    """Retry or delete (``action``) the failed jobs of the group ``key``:
    the seam between the Failures tab and the bulk actions.  A group of
    more than DIRECT_LIMIT jobs, or one found by a scan that hit its
    limit (older jobs of the group may be beyond it), is handed to
    ``zodbtasks.bulk.startBulk`` (a background job) when that module
    exists; a group of at most DIRECT_LIMIT jobs is otherwise acted on
    here, in the caller's transaction.  Returns an ``Outcome``: whether
    anything was done, how many jobs, and a message."""
    if action not in ACTIONS:
        raise ValueError('action must be one of %s, not %r'
                         % (', '.join(ACTIONS), action))
    group, summary = find_group(service, key, limit)
    if group is None:
        return Outcome(False, 0, 'No failed jobs of this kind are left.')
    small = group.count <= DIRECT_LIMIT
    start_bulk = _start_bulk()
    if start_bulk is not None and (summary.capped or not small):
        start_bulk(service, action, {'status': ERROR, 'error_group': key},
                   now=now)
        return Outcome(True, group.count, 'A background job will %s the '
                       '%s%d failed jobs of this kind.' % (
                           action, 'at least ' if summary.capped else '',
                           group.count))
    if not small:
        return Outcome(False, 0, 'Bulk actions unavailable: a group of '
                       'more than %d jobs cannot be acted on at once.'
                       % DIRECT_LIMIT)
    limit = SCAN_LIMIT if limit is None else limit
    if action == 'retry':
        done = sum(1 for jobid in group.ids if service.retry(jobid, now=now))
    else:
        done = sum(1 for jobid in group.ids if service.delete(jobid))
    return Outcome(True, done, '%d failed jobs %s.%s' % (
        done, 'queued again' if action == 'retry' else 'deleted',
        ' Older failed jobs beyond the first %d were not looked at.'
        % limit if summary.capped else ''))


def _start_bulk():
    """``zodbtasks.bulk.startBulk``, or None while there is none."""
    try:
        from zodbtasks.bulk import startBulk
    except ImportError:
        return None
    return startBulk
