"""Turning job data into text for the views (templates escape it).

Nothing here raises for odd stored data (a time after year 9999, an
infinite duration): a view of an old database still renders.

Readable values (issue 12): a time is shown as ``moment(epoch, now)``, a
``<time datetime="ISO UTC" title="full local time, zone">3 min ago</time>``
in listings (``full`` in detail pages), in the server's time zone unless
a zone is passed; the pages' script (static/readable.js) may redraw the
title in the browser's zone.  Job ids are shown short (``short_id``: the
last SHORT_ID_DIGITS digits, the full id in the title), errors as their
text (``error_text``), not as JSON strings.  ``now`` is always passed in.
"""
import datetime
import json
import math

from zodbtasks import clock

#: Characters of an input or result shown in a listing cell.
CELL_LIMIT = 80
#: Digits of a job id shown in listings (the full id is in the title).
SHORT_ID_DIGITS = 6
#: Seconds within which a time is "just now".
JUST_NOW = 1.0
#: The zone times are shown in (a tzinfo); None: the server's local zone.
ZONE = None


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


def error_text(error, limit=None):
    """A job's error as plain text (a message is a string; anything
    else stored as an error is shown as ``str`` of it); on one line, cut
    to ``limit`` characters when a limit is given; '' for None."""
    if error is None:
        return ''
    text = error if isinstance(error, str) else str(error)
    if limit is None:
        return text
    text = ' '.join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + '…'


def short_id(jobid, digits=SHORT_ID_DIGITS):
    """``…123456``: the last ``digits`` digits of a job id (the whole id
    when it is not longer)."""
    text = str(jobid)
    return text if len(text) <= digits else '…' + text[-digits:]


def local_time(epoch, zone=None):
    """``2026-12-02 01:25:03 CET``: the full time in ``zone`` (a tzinfo;
    None: ZONE) with the zone's name; '' for None."""
    if epoch is None:
        return ''
    try:
        utc = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
        moment = utc.astimezone(zone or ZONE)
    except (OverflowError, OSError, ValueError, TypeError):
        return clock.format_utc(epoch)
    return moment.strftime('%Y-%m-%d %H:%M:%S ') + (moment.tzname() or '')


def iso_utc(epoch):
    """``2026-12-02T01:25:03Z`` (a ``<time>``'s datetime); '' when the
    time cannot be written as a date."""
    try:
        utc = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    except (OverflowError, OSError, ValueError, TypeError):
        return ''
    return utc.strftime('%Y-%m-%dT%H:%M:%SZ')


def relative(epoch, now):
    """``3 min ago``, ``in 5 s``, ``just now``; '' for None and for a
    time that cannot be written as a date."""
    if epoch is None or not iso_utc(epoch):
        return ''
    delta = now - epoch
    if abs(delta) < JUST_NOW:
        return 'just now'
    seconds = abs(delta)
    text = '%d s' % seconds if seconds < 60 else age(seconds)
    return text + ' ago' if delta > 0 else 'in ' + text


def moment(epoch, now, zone=None):
    """What a ``<time>`` element shows of ``epoch`` at ``now``: a dict
    with ``datetime`` (ISO UTC), ``title`` and ``full`` (the local time
    with the zone's name), ``text`` (relative); None for None."""
    if epoch is None:
        return None
    full = local_time(epoch, zone)
    return {'datetime': iso_utc(epoch), 'title': full, 'full': full,
            'text': relative(epoch, now)}
