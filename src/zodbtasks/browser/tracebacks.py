"""Tracebacks as the job page shows them: the frames of the transaction
manager folded.

Between the job boundary (``zodbtasks.runner``) and the task's code a
failure's traceback passes through frames that are the same for every
job: the runner, the transaction helpers, the task wrapper, the
``transaction`` and ``ZODB`` packages.  ``fold(text)`` splits a stored
traceback into parts: runs of such frames become one folded part ("6
frames of the transaction manager folded"), the other lines stay as they
are.  The last frame of each traceback (where the exception was raised)
is never folded, so a failed commit still shows where it failed.  The
page shows the folded parts and, behind a ``<details>`` toggle, the full
text (it works without JavaScript).

Design note: the stored text is parsed (``File "...", line N, in f``
lines) rather than stored twice or stored as frames: tracebacks of jobs
made by any version, and those cut by ``job.cap_text``, fold alike; an
unparsable text is shown whole.
"""
import re

#: Paths of the machinery's frames (POSIX or Windows separators).
MACHINERY = re.compile(
    r'[/\\](?:transaction|ZODB|persistent)[/\\]'
    r'|[/\\]zodbtasks[/\\](?:runner|transactions|task|grouping|storage)'
    r'\.py$')
_FRAME = re.compile(r'^\s*File "(?P<path>[^"]*)", line \d+')


def is_machinery(path):
    """Whether a frame in the file ``path`` is the transaction manager's."""
    return MACHINERY.search(path) is not None


def _blocks(lines):
    """``(path or None, lines)``: a frame (its File line and the indented
    lines under it) or another line."""
    blocks = []
    for line in lines:
        match = _FRAME.match(line)
        if match is not None:
            blocks.append((match.group('path'), [line]))
        elif blocks and blocks[-1][0] is not None \
                and line.startswith('    '):
            blocks[-1][1].append(line)
        else:
            blocks.append((None, [line]))
    return blocks


def fold(text):
    """The parts of traceback ``text``: a list of dicts, ``{'text': ...}``
    for lines shown, ``{'folded': n}`` for n folded frames; an empty list
    for no text."""
    if not text:
        return []
    blocks = _blocks(text.splitlines())
    parts, run, shown = [], 0, []
    for index, (path, lines) in enumerate(blocks):
        last_frame = path is not None and (
            index + 1 == len(blocks) or blocks[index + 1][0] is None)
        if path is not None and is_machinery(path) and not last_frame:
            if shown:
                parts.append({'text': '\n'.join(shown), 'folded': 0})
                shown = []
            run += 1
            continue
        if run:
            parts.append({'text': '', 'folded': run})
            run = 0
        shown.extend(lines)
    if run:
        parts.append({'text': '', 'folded': run})
    if shown:
        parts.append({'text': '\n'.join(shown), 'folded': 0})
    return parts


def folded_count(parts):
    """How many frames ``parts`` fold in all."""
    return sum(part['folded'] for part in parts)


def describe(count):
    """``1 frame`` / ``6 frames`` of the transaction manager folded."""
    return '… %d frame%s of the transaction manager folded …' % (
        count, '' if count == 1 else 's')


def shown(text):
    """What a page shows of traceback ``text``: ``parts`` (each with its
    ``label`` for folded frames), ``full`` (the text) and ``folded`` (how
    many frames); None for no text."""
    if not text:
        return None
    parts = fold(text)
    for part in parts:
        part['label'] = describe(part['folded']) if part['folded'] else ''
    return {'parts': parts, 'full': text, 'folded': folded_count(parts)}
