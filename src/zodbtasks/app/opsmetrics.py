"""``zodbtasks metrics``: the text of ``@@metrics`` (``zodbtasks.metrics``)
for the services of ``--service``, printed, or written to a file for
node_exporter's textfile collector (registered in ``zodbtasks.app.ops``).

``metrics [--format openmetrics|prometheus] [--output FILE]``
    OpenMetrics 1.0 by default; ``prometheus`` is the 0.0.4 text format,
    which the textfile collector reads (name the file ``*.prom``).  The
    file is replaced atomically (written beside it, then renamed), so a
    scrape never reads half of it.
"""
import os
import tempfile

from zodbtasks import clock
from zodbtasks import metrics as exposition
from zodbtasks.app.session import OpsError

FORMATS = ('openmetrics', 'prometheus')


def metrics(session, args, out):
    text = exposition.render(session.services(), clock.now(),
                             openmetrics=args.format == 'openmetrics')
    if args.output is None:
        out.write(text)
        out.flush()
        return 0
    write_atomically(args.output, text)
    return 0


def write_atomically(path, text):
    """Write ``text`` to ``path`` through a file beside it, renamed over
    it; OpsError naming the path when that fails."""
    folder = os.path.dirname(os.path.abspath(path))
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix='.metrics-')
        with os.fdopen(handle, 'w', encoding='utf-8') as f:
            f.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        raise OpsError('--output %s: %s' % (path, exc)) from exc


def metrics_arguments(parser):
    parser.add_argument('--format', choices=FORMATS, default='openmetrics',
                        help='openmetrics (default) or prometheus (the '
                        '0.0.4 text format, for node_exporter\'s textfile '
                        'collector)')
    parser.add_argument('--output', metavar='FILE', default=None,
                        help='write to FILE (replaced atomically) instead '
                        'of printing')
