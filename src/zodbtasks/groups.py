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

Stored (made on first use): ``service._groups`` LOBTree id -> Group.
Nothing here commits or reads the clock.
"""
import persistent
from BTrees.IOBTree import IOBTree
from BTrees.LOBTree import LOBTree

from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import FINISHED
from zodbtasks.keys import time_ordered_key
from zodbtasks.trees import made

#: What a group's callback does when a member fails.
ON_FAILURE = ('wait', 'run', 'cancel')


class Group(persistent.Persistent):
    """A group of jobs and its callback."""

    callbackId = None

    def __init__(self, id, job_ids, on_failure):
        self.id = id
        self.jobIds = tuple(job_ids)
        self.onFailure = on_failure
        #: position -> (True, result) or (False, error message)
        self.outcomes = IOBTree()

    @property
    def total(self):
        return len(self.jobIds)

    @property
    def done(self):
        return len(self.outcomes)

    @property
    def failed(self):
        return sum(1 for ok, _ in self.outcomes.values() if not ok)

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
    groups[gid] = group = Group(gid, job_ids, on_failure)
    return group


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


def member_changed(service, job, old, new):
    """Keep the group's outcome of member ``job`` in step with its
    (indexed) status."""
    group = find(service, job.group)
    position = job.groupIndex
    if new in FINISHED:
        outcome = outcome_of(job, new)
        if group.outcomes.get(position) != outcome:
            group.outcomes[position] = outcome
    elif old in FINISHED and position in group.outcomes:
        del group.outcomes[position]      # retried: not done any more


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
