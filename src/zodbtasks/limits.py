"""Size limits of job inputs and results, measured as pickles.

Pure: no ZODB connection, no clock.  A value's size is the length of its
pickle with protocol 3 (what ZODB writes records with), persistent objects
counted as references (they are stored as records of their own), as
``zodbtasks.job.check_picklable`` pickles them.  The service refuses an
input above its ``maxInputSize`` (product-config ``max-input-size``,
default DEFAULT_MAX_INPUT_SIZE) with ``check_input_size``, and the runner
ends a job whose result is above it with ``result_too_large``'s message.

Design note: measuring without holding the pickle.  Pickling into a
writer that only counts is not enough by itself: the C pickler keeps a
protocol-3 pickle in its own buffer until ``dump`` ends (a list of 3
million strings peaked at 270 MB under tracemalloc while being counted).
With protocol 4 it hands each 64 KiB frame to the writer as it goes (the
same list peaked at 6 MB when the count stopped at 1 MiB), and large
``bytes`` go straight through.  So a value is measured in two passes:

1. protocol 4 into a counting writer that stops the pickler (an exception
   from ``write``) once the count passes ``limit`` plus a small slack;
   ``persistent_id``, which the pickler calls for every object, also stops
   it before it copies a ``str``, ``bytes``, ``bytearray`` or ``int`` that
   alone would pass the limit (the pickler copies those: a 100 MB ``str``
   cost 100 MB more).  A protocol-3 pickle is never shorter than the
   protocol-4 one by more than the slack (protocol 4 only adds 9 bytes per
   64 KiB frame and about 3 bytes per distinct class; its strings and
   memo entries are shorter), so passing it means the value is too large.
2. Otherwise protocol 3, counted exactly; that pickle is at most about 3.4
   times the protocol-4 one (short strings: 11 bytes against 4), so its
   buffer is small.

Rejected: the pure-Python pickler, which streams protocol 3 but was 20
times slower (0.3 s for a 2.4 MB input); measuring with protocol 4 only,
whose sizes are up to half of what ZODB stores for lists of short strings.
"""
import pickle

from zodbtasks import interfaces
from zodbtasks.job import _PersistentReferences
from zodbtasks.job import check_picklable

#: Default ``maxInputSize``: 1 MiB of pickle.
DEFAULT_MAX_INPUT_SIZE = 1048576
#: The protocol ZODB stores records with, which sizes are given in.
ZODB_PROTOCOL = 3
_STREAMING_PROTOCOL = 4
#: What pickling a value that cannot be stored raises.
PICKLING_ERRORS = (pickle.PicklingError, TypeError, AttributeError,
                   ValueError, RecursionError)


class _TooLarge(Exception):
    """The count passed the point where it stops."""


class _Counter:
    """A file that counts what is written to it; past ``stop`` bytes (if
    not None) it raises _TooLarge, which ends the pickler's ``dump``."""

    def __init__(self, stop=None):
        self.count = 0
        self.stop = stop

    def write(self, data):
        self.count += len(data)
        if self.stop is not None and self.count > self.stop:
            raise _TooLarge()
        return len(data)


class _StoppingPickler(_PersistentReferences):
    """Pickles with protocol 4 into a _Counter that has a stop; stops
    before copying a str, bytes, bytearray or int that alone would pass
    it (their pickle is at least that long)."""

    def __init__(self, counter):
        super().__init__(counter, protocol=_STREAMING_PROTOCOL)
        self._counter = counter

    def persistent_id(self, obj):
        kind = type(obj)
        size = (len(obj) if kind in (str, bytes, bytearray)
                else obj.bit_length() // 8 if kind is int else 0)
        if size and self._counter.count + size > self._counter.stop:
            self._counter.count += size
            raise _TooLarge()
        return super().persistent_id(obj)


#: Types whose pickle is short and never fails: at most 16 bytes more
#: than 4 bytes per character of a str (UTF-8) or one per byte or bit/8.
_SCALARS = (type(None), bool, int, float, str, bytes)


def surely_fits(value, limit):
    """Whether ``value`` is a scalar (None, a bool, an int, a float, a str
    or bytes) whose pickle is surely within ``limit`` bytes: such a value
    needs no measuring (the common case of a job's result)."""
    kind = type(value)
    if kind not in _SCALARS:
        return False
    if limit is None:
        return True
    if kind is str:
        bound = 4 * len(value)
    elif kind is bytes:
        bound = len(value)
    elif kind is int:
        bound = value.bit_length() // 8
    else:
        bound = 0
    return bound + 16 <= limit


def _slack(limit):
    """How much shorter than protocol 4 a protocol-3 pickle may be."""
    return limit // 4096 + 1024


def _measure(value, limit):
    """(size, exact): the protocol-3 pickle size of value; when it is
    over ``limit`` by more than the slack, a count past the limit and
    ``exact`` False.  Raises what pickling raises."""
    if limit is not None:
        counter = _Counter(stop=limit + _slack(limit))
        try:
            _StoppingPickler(counter).dump(value)
        except _TooLarge:
            return counter.count, False
    counter = _Counter()
    _PersistentReferences(counter, protocol=ZODB_PROTOCOL).dump(value)
    return counter.count, True


def pickled_size(value, limit=None):
    """The size in bytes of value's pickle (protocol 3, persistent objects
    as references).  With ``limit``, counting stops soon after the size
    passes it, and the number returned is then only known to be above
    ``limit``; memory and time stay bounded by the limit, not the value.
    Raises what pickling the value raises (PICKLING_ERRORS)."""
    return _measure(value, limit)[0]


def _size_text(size, exact, limit):
    return '%d bytes' % size if exact else 'more than %d bytes' % limit


def check_input_size(value, limit, what):
    """Raise InputError naming ``what`` (e.g. "input of a 'echo' job")
    when value pickles to more than ``limit`` bytes, with the size and the
    limit, or cannot be pickled at all.  ``limit`` None: no limit."""
    try:
        size, exact = _measure(value, limit)
    except PICKLING_ERRORS as exc:
        raise interfaces.InputError(
            '%s cannot be stored in the ZODB: %s: %s'
            % (what, type(exc).__name__, exc)) from exc
    if limit is not None and size > limit:
        raise interfaces.InputError('%s is %s pickled, limit %d' % (
            what, _size_text(size, exact, limit), limit))


def result_too_large(value, limit):
    """The error of a job whose result pickles to more than ``limit``
    bytes: ``result too large: N bytes, limit M`` (``more than M bytes``
    when counting stopped early); None when it fits, when ``limit`` is
    None, or when it cannot be pickled (storing it reports that)."""
    if limit is None or surely_fits(value, limit):
        return None
    try:
        size, exact = _measure(value, limit)
    except PICKLING_ERRORS:
        return None
    if size <= limit:
        return None
    return 'result too large: %s, limit %d' % (
        _size_text(size, exact, limit), limit)


class ResultTooLarge(interfaces.TaskError):
    """A task returned a result above the service's ``maxInputSize``."""


def check_result(output, limit, what):
    """Raise ResultTooLarge for a result above ``limit`` bytes and
    InputError for one that cannot be stored (``what`` names it)."""
    if surely_fits(output, limit):
        return
    # The size first: it is measured in bounded memory, while the check
    # of what cannot be stored pickles the whole value.
    too_large = result_too_large(output, limit)
    if too_large:
        raise ResultTooLarge(too_large)
    check_picklable(output, what)
