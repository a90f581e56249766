"""How a job's state is stored: small numbers instead of attribute names.

A job is written twice per run (its claim and its outcome), and the
names of its attributes were about half of each record (``'completed'``
costs 13 bytes as a key, 2 as a number).  ``encode`` turns the state
dict into a tuple of the first attributes (HEAD, by position), followed
by a dict of the others keyed by their number in NAMES (attributes not
in NAMES keep their names), with the status as its number in STATUSES
and ``enqueued`` as True when it equals ``created``; ``decode`` turns it
back.  States written by 0.1 (dicts of names) decode unchanged.

Both tuples are append-only: a stored number keeps its meaning forever.
"""
from zodbtasks import interfaces

#: Attribute names by their stored number (append only).
NAMES = (
    'id', 'task', 'input', 'status', 'created', 'enqueued', 'queueKey',
    'releaseKey', 'owner', 'attempts', 'started', 'completed', 'output',
    'error', 'traceback', 'scheduledFor', 'retryPolicy', 'priority',
    'deadline', 'uniqueKey', 'after', 'tags', 'afterTag', 'afterTask',
    'onDependencyFailure', 'serializationTag', 'timeLimit', 'runAs',
    'group', 'groupIndex', 'callbackOf', 'then', 'afterCursor', 'waitsOn',
    'watched', 'parkedOn', 'parkKey', 'groupKey', 'runContext',
    'history', 'historyOmitted',
)
#: Statuses by their stored number (append only).
STATUSES = interfaces.STATUSES

#: The first attributes, which most jobs have: stored by position, as
#: a tuple (None where absent: each one's class default is None, but
#: ``attempts``, stored as 0 where absent); the others follow in a dict.
HEAD = NAMES[:12]

_NUMBERS = {name: number for number, name in enumerate(NAMES)}
_STATUS_NUMBERS = {name: number for number, name in enumerate(STATUSES)}
_STATUS, _CREATED, _ENQUEUED = (HEAD.index(name) for name in
                                ('status', 'created', 'enqueued'))
_DEFAULTS = tuple(0 if name == 'attempts' else None for name in HEAD)


def encode(state):
    """The stored form of a job's state dict: a tuple of the HEAD
    values, with a dict of the others at the end when there are any."""
    values = [state.get(name, default)
              for name, default in zip(HEAD, _DEFAULTS)]
    status = values[_STATUS]
    if status in _STATUS_NUMBERS:
        values[_STATUS] = _STATUS_NUMBERS[status]
    enqueued = values[_ENQUEUED]
    if enqueued is not None and enqueued == values[_CREATED]:
        values[_ENQUEUED] = True
    others = {_NUMBERS.get(name, name): value
              for name, value in state.items() if name not in _HEAD_SET}
    if others:
        values.append(others)
    return tuple(values)


_HEAD_SET = frozenset(HEAD)


def decode(stored):
    """The state dict of a stored state: a tuple of this version, or a
    dict (of 0.1, with names, or with numbers)."""
    if type(stored) is tuple:
        state = dict(zip(HEAD, stored))
        others = stored[len(HEAD)] if len(stored) > len(HEAD) else {}
    else:
        state, others = {}, stored
    for key, value in others.items():
        state[NAMES[key] if type(key) is int else key] = value
    status = state.get('status')
    if type(status) is int:
        state['status'] = STATUSES[status]
    if state.get('enqueued') is True:
        state['enqueued'] = state.get('created')
    return state
