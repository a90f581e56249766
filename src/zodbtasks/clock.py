"""The one place that reads the clock (everything else takes ``now``),
and the one formatter of epoch seconds as UTC text."""
import datetime
import time


def now():
    """The current time in epoch seconds (UTC)."""
    return time.time()


def format_utc(epoch, seconds=True, missing=''):
    """``2026-11-23 19:40:12`` (UTC) for epoch seconds; ``missing`` for
    None.  Never raises: a time outside what ``datetime`` can show (before
    year 1, after 9999, inf, NaN) is written as the number itself."""
    if epoch is None:
        return missing
    try:
        moment = datetime.datetime.fromtimestamp(epoch,
                                                 datetime.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return '%r (epoch seconds, out of range)' % (epoch,)
    return moment.strftime('%Y-%m-%d %H:%M:%S' if seconds
                           else '%Y-%m-%d %H:%M')
