"""The shell command lines that the READMEs and docs/*.rst show, for the
tests that parse them (``test_readme_commands.py``) and run them
(``zeo/test_deployment_doc.py``).

A command line is a line of a literal block, or an inline literal, whose
first word (after a path such as ``.venv/bin/`` and a systemd
``ExecStart=``) is one of ``COMMANDS`` and that has arguments.  Synopses
are made concrete: ``[--limit 20]`` becomes ``--limit 20``, ``JOBID...``
the job ids given, ``JOBID`` the first of them, ``TASK`` the task given
(by default ``hold``, the task of tests/zeo whose jobs
``zeo/test_deployment_doc.py`` adds), ``GID`` the group id given, ``N``
1.
"""
import glob
import os
import re
import shlex

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
#: The documents whose command lines are tested, relative to TOP.
DOCUMENTS = ['README.rst', os.path.join('src', 'zodbtasks', 'README.rst')] \
    + sorted(os.path.relpath(path, TOP)
             for path in glob.glob(os.path.join(TOP, 'docs', '*.rst')))
COMMANDS = ('zodbtasks', 'zodbtasks-server', 'zodbtasks-worker', 'runzeo',
            'make')

#: Inline literals that look like command lines and are not.
NOT_COMMANDS = {
    'zodbtasks worker stopped',  # the worker's last log line
}

_INLINE = re.compile(r'``(.+?)``', re.DOTALL)
_BLOCK_LINE = re.compile(r'^ {4,}(\S.*)$', re.MULTILINE)
_PREFIX = re.compile(r'^(?:ExecStart=)?(?:\S*/)?')


def _read(document):
    with open(os.path.join(TOP, document)) as f:
        return f.read()


def command_lines(document):
    """The command lines of ``document`` (relative to TOP), in order, each
    once, white space folded and comments dropped."""
    text = _read(document)
    candidates = [' '.join(literal.split())
                  for literal in _INLINE.findall(text)]
    candidates += _BLOCK_LINE.findall(text)
    lines = []
    for candidate in candidates:
        line = candidate.split(' # ')[0].strip()
        words = line.split()
        if len(words) < 2 or _PREFIX.sub('', words[0]) not in COMMANDS:
            continue
        if line not in lines and line not in NOT_COMMANDS:
            lines.append(line)
    return lines


def all_command_lines():
    """``[(document, line)]`` for every document."""
    return [(document, line) for document in DOCUMENTS
            for line in command_lines(document)]


def argv(line, jobids=('1', '2'), task='hold', group='1'):
    """The command's name and its arguments, synopsis made concrete."""
    words = shlex.split(line.replace('[', '').replace(']', ''))
    name = _PREFIX.sub('', words[0])
    arguments = []
    for word in words[1:]:
        if word == 'JOBID...':
            arguments.extend(jobids)
        elif word == 'JOBID':
            arguments.append(jobids[0])
        elif word == 'TASK':
            arguments.append(task)
        elif word == 'GID':
            arguments.append(group)
        elif word == 'N':
            arguments.append('1')
        else:
            arguments.append(word)
    return name, arguments


def text_blocks(document):
    """The ``.. code-block:: text`` blocks of ``document``, dedented."""
    blocks = re.findall(r'^\.\. code-block:: text\n\n((?:    .*\n|\n)+)',
                        _read(document), re.MULTILINE)
    return [re.sub(r'^    ', '', block, flags=re.MULTILINE)
            for block in blocks]


def block_with(document, marker):
    """The one text block of ``document`` that contains ``marker``."""
    [block] = [block for block in text_blocks(document) if marker in block]
    return block
