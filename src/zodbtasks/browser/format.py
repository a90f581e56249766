"""Turning job data into text for the views (templates escape it).

Nothing here raises for odd stored data (a time after year 9999, an
infinite duration): a view of an old database still renders."""
import json
import math

from zodbtasks import clock

#: Characters of an input or result shown in a listing cell.
CELL_LIMIT = 80


def when(epoch):
    """``2026-11-23 19:40:12`` (UTC), or '' for None; a time that cannot
    be shown as a date is written as its number (see clock.format_utc)."""
    return clock.format_utc(epoch)


def age(seconds):
    """A short human duration: ``0.25 s``, ``42 s``, ``5 min``,
    ``2 h 3 min``, ``4 d 1 h``; '' for None."""
    if seconds is None:
        return ''
    if not math.isfinite(seconds):
        return '%r s' % (seconds,)
    if seconds < 10:
        return '%.2g s' % seconds if seconds < 1 else '%.1f s' % seconds
    seconds = int(seconds)
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 60:
        return '%d s' % seconds
    if seconds < 3600:
        return '%d min' % minutes
    if seconds < 86400:
        return '%d h %d min' % (hours, minutes % 60)
    return '%d d %d h' % (days, hours % 24)


def duration(job):
    """How long the job's last run took, as text ('' when unknown)."""
    if job.started is None or job.completed is None \
            or job.completed < job.started:
        return ''
    return age(job.completed - job.started)


def value(data):
    """A job's input or result as text: JSON when it is JSON data, else
    its repr."""
    if data is None:
        return ''
    try:
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(data)


def short(data, limit=CELL_LIMIT):
    """``value`` on one line, cut to ``limit`` characters."""
    text = ' '.join(value(data).split())
    return text if len(text) <= limit else text[:limit - 1] + '…'
