"""Finding jobs: a *selector* (a small picklable dict) says which jobs an
operator means; ``Search`` walks the ids of the jobs it matches, newest
first, through the index, in bounded work.

A selector's keys (all optional; ``check_selector`` says what is wrong,
naming the key):

- ``status``, ``task``, ``tag``: as the Jobs tab's filters (index sets);
- ``id``: a string of digits: a whole job id (10 digits or more: one
  look-up), or the short form the UI shows (4 to 9 trailing digits),
  matched against the ids of the other filters, newest first, within
  the walk's budget (ids only, no job is loaded; a page says when it
  stopped: the whole id then finds any job);
- ``created_from``, ``created_to``: epoch seconds, both ends included:
  ids grow with creation time (``zodbtasks.keys``), so this is an id
  range and needs no index of its own;
- ``finished_from``, ``finished_to``: epoch seconds, both ends included:
  a range of the index's ``completed`` TimeSet of (time, id);
- ``text``: a string looked for (case-insensitively) in the ``repr`` of
  the job's input and in its error message;
- ``error_group``: a key of ``zodbtasks.failures.group_key(job)``
  (ignored when that module is not installed).

Order: by id, newest first (``reverse=False``: oldest first), or with a
finished range by finish time, latest first.

Design note (bounded work, at any number of jobs): status, task and tag
are sets of ids intersected by jumps (``walk_sets``, the leapfrog of
``zodbtasks.listing`` with id bounds), so a created range costs what its
matches cost, not what lies outside it.  A short id, a finished range
combined with sets, a text and an error group are checked one candidate
at a time: every walk has a ``budget`` of index steps (a key of a set
or of the time index, or a jump of the leapfrog: each may read a bucket)
and one of jobs loaded (for ``text`` and ``error_group``, which cost far
more: ``JOB_BUDGET``), and says when it ran out (``exhausted`` False,
``position`` where to continue), so that a page can say "searched the
newest N" honestly instead of taking unbounded time.  Counting the matches of a range exactly would
walk them all (BTrees keep no ranks): pages count up to ``PAGE_LIMIT``
and say "more than" beyond.  A rank-keeping tree was rejected: every
add() would rewrite its path of counts (the write hot spot the index
avoids).
"""
import importlib
import math

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.keys import MAX_ID
from zodbtasks.keys import RANDOM_BITS
from zodbtasks.trees import SENTINEL
from zodbtasks.walks import Budget
from zodbtasks.walks import walk_sets
from zodbtasks.walks import walk_times

FIELDS = ('status', 'task', 'tag', 'id', 'text', 'created_from',
          'created_to', 'finished_from', 'finished_to', 'error_group')
#: The keys that need more than the index's counts (``is_search``).
SEARCH_FIELDS = FIELDS[3:]
#: Digits of the shortest short id accepted, and of the shortest whole id.
SHORT_ID_DIGITS = 4
WHOLE_ID_DIGITS = 10
#: The longest text, tag, task or error group a selector takes.
MAX_TEXT = 500
#: Matches a page collects at most (its total says "more than" beyond).
PAGE_LIMIT = 2000
#: Steps of the index a page's walk takes at most (a step: a key of one
#: set or of the time index, or a jump of the leapfrog; each may read a
#: bucket from the storage).
INDEX_BUDGET = 2500
#: Jobs a page loads to look at their text or error group, at most.
JOB_BUDGET = 2000
#: What ``Search._matches`` says when the job budget ran out.
_STOP = object()


class SelectorError(ValueError):
    """A selector key has a value that cannot be used; ``field`` names it."""

    def __init__(self, field, message):
        super().__init__('%s: %s' % (field, message))
        self.field = field


def check_selector(selector):
    """A clean copy of ``selector`` (keys of FIELDS with a value; None and
    '' dropped), or SelectorError naming the first bad key."""
    clean = {}
    for key, value in dict(selector).items():
        if key not in FIELDS:
            raise SelectorError(key, 'not a search field (one of %s)'
                                % ', '.join(FIELDS))
        if value is None or value == '':
            continue
        clean[key] = _check(key, value)
    for low, high in (('created_from', 'created_to'),
                      ('finished_from', 'finished_to')):
        if low in clean and high in clean and clean[low] > clean[high]:
            raise SelectorError(high, 'is before %s' % low.replace('_', ' '))
    return clean


def _check(key, value):
    if key == 'status' and value not in interfaces.STATUSES:
        raise SelectorError(key, 'not a status (one of %s)'
                            % ', '.join(interfaces.STATUSES))
    if key.endswith(('_from', '_to')):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise SelectorError(key, 'not a time (epoch seconds)')
        return float(value)
    if not isinstance(value, str):
        raise SelectorError(key, 'not a string')
    if key == 'id':
        value = value.strip()
        if not value.isdigit() or len(value) < SHORT_ID_DIGITS \
                or int(value) > MAX_ID:
            raise SelectorError(key, 'a job id is a number of at least %d '
                                'digits (the short form is its last ones)'
                                % SHORT_ID_DIGITS)
    if len(value) > MAX_TEXT:
        raise SelectorError(key, 'longer than %d characters' % MAX_TEXT)
    return value


def is_search(selector):
    """Whether ``selector`` needs a Search (not just the index's sets)."""
    return any(key in selector for key in SEARCH_FIELDS)


def describe(selector):
    """The selector as operators read it: 'status=error, task=mail'."""
    parts = []
    for key in FIELDS:
        if key in selector:
            value = selector[key]
            if key.endswith(('_from', '_to')):
                value = clock.format_utc(value) + ' UTC'
            parts.append('%s=%s' % (key, value))
    return ', '.join(parts) or 'all jobs'


def id_range(selector):
    """(lowest, highest) job id created in the selector's created range."""
    low, high = SENTINEL + 1, MAX_ID
    if 'created_from' in selector:
        low = max(low, math.ceil(selector['created_from'] * 1000)
                  << RANDOM_BITS)
    if 'created_to' in selector:
        high = min(high, ((math.floor(selector['created_to'] * 1000) + 1)
                          << RANDOM_BITS) - 1)
    return low, high


def group_key_function():
    """``zodbtasks.failures.group_key``, or None without that module."""
    try:
        module = importlib.import_module('zodbtasks.failures')
    except ImportError:
        return None
    return getattr(module, 'group_key', None)


class Search:
    """The jobs of ``service`` that ``selector`` (checked) matches."""

    def __init__(self, service, selector, budget=None, job_budget=None):
        self.service, self.selector = service, dict(selector)
        self.index, self.jobs = service._index, service.jobs
        #: Index steps (see Budget) and jobs loaded allowed (None: no
        #: bound).
        self.steps, self.job_budget = Budget(budget), job_budget
        #: Jobs loaded so far.
        self.loaded = 0
        #: False once a walk stopped for want of budget.
        self.exhausted = True
        #: The key to continue after (the last candidate looked at, or
        #: where the budget ran out).
        self.position = None
        self.low, self.high = id_range(self.selector)
        self.group_key = group_key_function() \
            if 'error_group' in self.selector else None
        self.by_time = 'finished_from' in self.selector \
            or 'finished_to' in self.selector

    @property
    def examined(self):
        """Index steps taken so far."""
        return self.steps.used

    # -- the sets of the filters ------------------------------------------

    def sets(self):
        """The IdSets of status, task and tag (a None: no job has it),
        smallest first."""
        found = []
        for family, groups in (('status', self.index.by_status),
                               ('task', self.index.by_task),
                               ('tag', self.index.by_tag)):
            if family in self.selector:
                value = self.selector[family]
                ids = groups.sets.get(value) if groups is not None else None
                if ids is None:
                    return [None]
                found.append((groups.count(value), ids))
        if any(count == 0 for count, _ in found) or self._none_of_task():
            return [None]
        found.sort(key=lambda pair: pair[0])
        return [ids for _, ids in found]

    def _none_of_task(self):
        """Whether the task tally says no job of the task has the status
        (a walk by jumps would look for them until its budget ran out)."""
        selector = self.selector
        if 'status' not in selector or 'task' not in selector:
            return False
        return self.index.count_by_status_and_task(
            selector['status'], selector['task']) == 0

    # -- walking --------------------------------------------------------

    def keys(self, reverse=True, after=None):
        """(key, id) of the matching jobs in order; ``key`` is the id, or
        (finish time, id) with a finished range; ``after``: a key from an
        earlier walk (``position``) to continue after."""
        if 'id' in self.selector \
                and len(self.selector['id']) >= WHOLE_ID_DIGITS:
            candidates = self._whole_id(after)
        elif self.by_time:
            candidates = self._finished(reverse, after)
        else:
            candidates = self._created(reverse, after)
        for key, jobid in candidates:
            verdict = self._matches(jobid)
            if verdict is _STOP:
                return
            self.position = key
            if verdict:
                yield key, jobid
        if self.steps.resume is not None:
            self.exhausted = False
            self.position = self.steps.resume

    def ids(self, reverse=True):
        return (jobid for _, jobid in self.keys(reverse))

    def _whole_id(self, after):
        jobid = int(self.selector['id'])
        if after is None and self.low <= jobid <= self.high \
                and jobid in self.jobs \
                and all(ids is not None and jobid in ids
                        for ids in self.sets()):
            yield jobid, jobid

    def _created(self, reverse, after):
        low, high = self.low, self.high
        if after is not None:
            if reverse:
                high = min(high, after - 1)
            else:
                low = max(low, after + 1)
        sets = self.sets()
        if None in sets:
            return iter(())
        trees = sets or [self.jobs]
        return ((jobid, jobid) for jobid in walk_sets(
            trees, low, high, reverse, self.steps))

    def _finished(self, reverse, after):
        sets = self.sets()
        if None in sets:
            return
        low = (self.selector.get('finished_from', 0.0), 0)
        high = (self.selector.get('finished_to', float('inf')), MAX_ID)
        if after is not None:
            low, high = (low, (after[0], after[1] - 1)) if reverse \
                else ((after[0], after[1] + 1), high)
        for key in walk_times(self.index.completed, low, high, reverse,
                              self.steps):
            jobid = key[1]
            if self.low <= jobid <= self.high \
                    and all(jobid in ids for ids in sets):
                yield key, jobid

    # -- one candidate ------------------------------------------------------

    def _matches(self, jobid):
        selector = self.selector
        short = selector.get('id')
        if short is not None and len(short) < WHOLE_ID_DIGITS \
                and not str(jobid).endswith(short):
            return False
        text, group = selector.get('text'), self.group_key
        if text is None and group is None:
            return True
        if self.job_budget is not None and self.loaded >= self.job_budget:
            self.exhausted = False
            return _STOP
        self.loaded += 1
        job = self.jobs.get(jobid)
        if job is None:
            return False
        if text is not None and not text_matches(job, text):
            return False
        return group is None or group(job) == selector['error_group']

    # -- what pages need ----------------------------------------------------

    def collect(self, limit, reverse=True):
        """Up to ``limit`` matching ids in order, and whether they are all
        (False: more match, or the budget ran out first)."""
        found = []
        for jobid in self.ids(reverse):
            if len(found) >= limit:
                return found, False
            found.append(jobid)
        return found, self.exhausted


def text_matches(job, text):
    """Whether ``text`` (any case) is in the repr of the job's input or
    in its error message."""
    needle = text.casefold()
    if job.error and needle in str(job.error).casefold():
        return True
    try:
        shown = repr(job.input)
    except Exception:   # an input whose repr fails has no text to match
        return False
    return needle in shown.casefold()
