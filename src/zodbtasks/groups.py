"""Groups (fan-out / fan-in) and chain steps.

``addGroup`` adds the members and a callback job that waits for all of
them (``after``: the dependencies of ``zodbtasks.dependencies`` release
it exactly once).  Each member's outcome is written, when the member is
folded (or otherwise ends), into ``Group.outcomes``: an IOBTree keyed by
the member's position, so members finishing at once on different workers
insert different keys, which BTrees merge without a conflict (the idea
of CMFActivity's ActiveProcess).  The callback's input gets the results
(and, with ``onFailure='run'``, the errors) in member order when it runs.

``add(..., then=(task, input[, options]))`` is a chain step: when the job
completes, the next job is added in the same fold transaction, with the
job's result under ``'result'`` of its input.

Stored (made on first use): ``service._groups`` LOBTree id -> Group,
and ``service._groupCount``, a ``BTrees.Length`` of it (``len()`` of a
BTree loads every bucket).  Nothing here commits or reads the clock.

Design note on the counts: the Groups tab shows ``done`` and ``failed``
of up to a page of groups, and ``len(outcomes)`` loads every bucket of
the outcomes of a group (84 buckets for 10,000 members).  A group keeps
both counts in ``BTrees.Length`` objects, changed with its outcomes:
members finishing at once on different workers change them without a
conflict (Length resolves concurrent changes by adding them).  Counting
on the Group object itself was rejected: every member's fold would write
it, and concurrent folds would conflict.  Groups stored before the counts
existed count their outcomes.
"""
import itertools

import persistent
from BTrees.IOBTree import IOBTree
from BTrees.Length import Length
from BTrees.LOBTree import LOBTree

from zodbtasks.index import descending
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import FINISHED
from zodbtasks.keys import time_ordered_key
from zodbtasks.trees import made

#: What a group's callback does when a member fails.
ON_FAILURE = ('wait', 'run', 'cancel')


class Group(persistent.Persistent):
    """A group of jobs and its callback."""

    callbackId = None
    #: When addGroup made it (epoch seconds); None for older groups.
    created = None
    #: Lengths of the finished and of the failed members (None: a group
    #: stored before they existed; its outcomes are counted).
    _done = _failed = None

    def __init__(self, id, job_ids, on_failure, created=None):
        self.id = id
        self.jobIds = tuple(job_ids)
        self.onFailure = on_failure
        self.created = created
        #: position -> (True, result) or (False, error message)
        self.outcomes = IOBTree()
        self._done, self._failed = Length(), Length()

    @property
    def total(self):
        return len(self.jobIds)

    @property
    def done(self):
        if self._done is not None:
            return self._done()
        return len(self.outcomes)

    @property
    def failed(self):
        if self._failed is not None:
            return self._failed()
        return sum(1 for ok, _ in self.outcomes.values() if not ok)

    def set_outcome(self, position, outcome):
        """Set (or with None remove) the outcome of member ``position``,
        and keep the counts in step."""
        before = self.outcomes.get(position)
        if outcome == before:
            return
        if outcome is None:
            del self.outcomes[position]
        else:
            self.outcomes[position] = outcome
        for counter, counted in ((self._done, lambda o: o is not None),
                                 (self._failed,
                                  lambda o: o is not None and not o[0])):
            delta = counted(outcome) - counted(before)
            if counter is not None and delta:
                counter.change(delta)

    @property
    def status(self):
        if self.done < self.total:
            return 'running'
        return 'failed' if self.failed else 'completed'

    def results(self):
        """The members' results in member order (None where a member
        failed or has not finished)."""
        return [value if ok else None
                for ok, value in (self.outcomes.get(position, (False, None))
                                  for position in range(self.total))]

    def errors(self):
        """The members' error messages in member order (None where a
        member succeeded or has not finished)."""
        return [None if ok else value
                for ok, value in (self.outcomes.get(position, (True, None))
                                  for position in range(self.total))]


def tree(service):
    return made(service, '_groups', LOBTree)


def new_group(service, job_ids, on_failure, now):
    groups = tree(service)
    last = groups.maxKey() if groups else None
    gid = time_ordered_key(now, groups, after=last)
    counter = getattr(service, '_groupCount', None)
    if counter is None:   # the groups stored before it are counted once
        service._groupCount = counter = Length(len(groups))
    groups[gid] = group = Group(gid, job_ids, on_failure, created=now)
    counter.change(1)
    return group


def count(service):
    """How many groups ``service`` holds."""
    counter = getattr(service, '_groupCount', None)
    if counter is not None:
        return counter()
    groups = getattr(service, '_groups', None)
    return len(groups) if groups is not None else 0


def newest(service, start, size):
    """The groups from position ``start`` (0: the newest) on, at most
    ``size``: ``start + size`` steps down the tree (``descending``), the
    other groups are not loaded."""
    groups = getattr(service, '_groups', None)
    if groups is None:
        return []
    return [groups[gid] for gid in
            itertools.islice(descending(groups), start, start + size)]


def forget(service, gid):
    """Remove the record of group ``gid``."""
    del service._groups[gid]
    counter = getattr(service, '_groupCount', None)
    if counter is not None:
        counter.change(-1)


def find(service, gid):
    groups = getattr(service, '_groups', None)
    group = groups.get(gid) if groups is not None else None
    if group is None:
        raise KeyError(gid)
    return group


def outcome_of(job, status):
    """A member's outcome in ``status``: (True, result) or (False,
    error)."""
    return (True, job.output) if status == COMPLETED \
        else (False, job.error or status)


def clean_refusal(service, group):
    """Why ``group`` cannot be cleaned now, or None: a member that still
    exists has not finished (members deleted unfinished do not count), or
    its callback waits or runs."""
    jobs = service.jobs
    if group.done < group.total and any(
            position not in group.outcomes and jobid in jobs
            for position, jobid in enumerate(group.jobIds)):
        return ('group %d is running (%d of %d members finished): clean it '
                'once every member has finished'
                % (group.id, group.done, group.total))
    callback = jobs.get(group.callbackId) \
        if group.callbackId is not None else None
    if callback is not None and callback.status not in FINISHED:
        return ('group %d is %s, but its callback job %d is %s: let the '
                'callback finish, or cancel it, then clean the group'
                % (group.id, group.status, callback.id, callback.status))
    return None


def member_changed(service, job, old, new):
    """Keep the group's outcome of member ``job`` in step with its
    (indexed) status."""
    group = find(service, job.group)
    position = job.groupIndex
    if new in FINISHED:
        group.set_outcome(position, outcome_of(job, new))
    elif old in FINISHED:
        group.set_outcome(position, None)   # retried: not done any more


def current_outcomes(service, group):
    """The outcome (or None) of each member in member order, as the jobs
    say now: a member that finished in another worker is done before
    that worker folds it (and writes its outcome), and a callback may be
    released by the others meanwhile; a member that was removed keeps
    its stored outcome."""
    outcomes = []
    for position, jobid in enumerate(group.jobIds):
        member = service.jobs.get(jobid)
        if member is not None and member.group == group.id:
            outcomes.append(outcome_of(member, member.status)
                            if member.status in FINISHED else None)
        else:
            outcomes.append(group.outcomes.get(position))
    return outcomes


def callback_input(service, job):
    """The input a group's callback runs with: a copy of its own with
    'results' (and 'errors' with onFailure='run'), read from the members
    themselves (see ``current_outcomes``)."""
    group = find(service, job.callbackOf)
    outcomes = current_outcomes(service, group)
    data = dict(job.input or {})
    data['results'] = [outcome[1] if outcome and outcome[0] else None
                       for outcome in outcomes]
    if group.onFailure == 'run':
        data['errors'] = [None if outcome is None or outcome[0]
                          else outcome[1] for outcome in outcomes]
    return data


def check_then(then):
    """``then``: None, (task, input) or (task, input, options)."""
    if then is None:
        return None
    if not isinstance(then, tuple) or len(then) not in (2, 3) \
            or not isinstance(then[0], str) \
            or (len(then) == 3 and not isinstance(then[2], dict)):
        raise ValueError('then: expected (task, input) or (task, input, '
                         'options), not %.80r' % (then,))
    check_input(then[1], 'then')
    return then


def check_input(data, name):
    if data is not None and not isinstance(data, dict):
        raise ValueError('%s: the input of a callback or chain step is a '
                         'dict (or None), not %.80r' % (name, data))
