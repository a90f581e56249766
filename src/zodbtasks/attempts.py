"""A job's attempt history: who ran it, when, and how each run ended.

Each end of a claim appends an entry to the job's ``history``: a run that
ended (``claiming.finish``), a worker lost while it ran (``lost``), a
claim given back without running (``release``).  An entry is a tuple
``(worker, start, end, outcome)``: the worker id, epoch seconds (``end``
None for a release, which has no clock), and the outcome: None for
*completed* (the common case, kept one byte), else ``'error: <first line
of the message>'`` (cut to OUTCOME_LIMIT), ``'lost'``, ``'cancelled'`` or
``'released'``.

Design note: the history lives on the job object, which each of those
transactions writes anyway (a separate object per job would be an extra
record per write; a BTree of attempts per service a write hot spot).  It
is bounded: the first HEAD entries and the last TAIL are kept, and
``historyOmitted`` counts the ones dropped between them, so a cron job
that runs every minute for years stays small.  The worker id in an entry
is the job's ``owner`` object and ``start`` its ``started``: the pickle
stores the id once (pickle memoizes strings by identity).  Jobs stored
before there was a history have none; ``entries`` then describes what is
known (the count of attempts, the last start and end).

Nothing here reads the clock: times are passed in.
"""
import collections

#: First and last entries kept; the ones between are counted only.
HEAD = 1
TAIL = 20
#: Characters of an error's first line kept in an outcome.
OUTCOME_LIMIT = 200

COMPLETED = None
LOST = 'lost'
CANCELLED = 'cancelled'
RELEASED = 'released'
ERROR_PREFIX = 'error: '

#: One attempt as the views show it: ``outcome`` the word ('completed',
#: 'error', 'lost', 'cancelled', 'released', 'running', 'unknown'),
#: ``message`` the error's first line or ''; ``known`` False for the
#: summary of a job stored before there was a history.
Attempt = collections.namedtuple(
    'Attempt', 'number worker start end outcome message known')


def error_outcome(message):
    """The outcome of a run that ended with the error ``message``."""
    lines = str(message or '').strip().splitlines()
    first = lines[0] if lines else ''
    if len(first) > OUTCOME_LIMIT:
        first = first[:OUTCOME_LIMIT - 1] + '…'
    return ERROR_PREFIX + first


def record(job, end, outcome):
    """Append the end of ``job``'s current claim (by ``job.owner``, since
    ``job.started``) with ``outcome`` (see the module), keeping the
    history bounded."""
    entry = (job.owner, job.started, end, outcome)
    history = job.history + (entry,)
    if len(history) > HEAD + TAIL:
        history = history[:HEAD] + history[HEAD + 1:]
        job.historyOmitted += 1
    job.history = history


def _split(outcome):
    if outcome is COMPLETED:
        return 'completed', ''
    if outcome.startswith(ERROR_PREFIX):
        return 'error', outcome[len(ERROR_PREFIX):]
    return outcome, ''


def entries(job, running=False):
    """The attempts of ``job`` to show, oldest first: its history (the
    numbers skip the omitted ones), then the current run while
    ``running``; for a job without a history, one summary entry of its
    last run (``known`` False) when it ever started."""
    result = []
    number = 0
    for index, (worker, start, end, outcome) in enumerate(job.history):
        if index == HEAD:
            number += job.historyOmitted
        word, message = _split(outcome)
        ran = word != RELEASED  # a claim that did not run is no attempt
        number += ran
        result.append(Attempt(number if ran else None, worker, start, end,
                              word, message, True))
    if running:  # a job stored without a history counted its claims
        result.append(Attempt(number + 1 if job.history
                              else max(job.attempts, 1), job.owner,
                              job.started, None, 'running', '', True))
    elif not job.history and job.started is not None:
        word = job.status if job.completed is not None else 'unknown'
        result.append(Attempt(job.attempts or None, job.owner, job.started,
                              job.completed, word, job.error or '', False))
    return result


def omitted(job):
    """How many attempts the history no longer lists."""
    return job.historyOmitted
