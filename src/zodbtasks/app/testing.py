"""Helpers for tests and benchmarks of the application server."""
import contextlib
import io
import logging
import os

from zodbtasks.app import instance

#: The sample zope.conf of a checkout.
SAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      os.pardir, os.pardir, os.pardir, 'etc',
                      'zope.conf.sample')


def quiet_instance(folder, sample=SAMPLE):
    """A fresh instance in ``folder`` whose services do not start (the
    demo's 3 s sleep job would hold up every teardown, since a processor
    is joined after its current job): its zope.conf and the manager's
    password."""
    config = os.path.join(folder, 'zope.conf')
    password = instance.create_instance(config, sample, {})
    with open(config) as f:
        text = f.read()
    with open(config, 'w') as f:
        f.write(text.replace('autostart demo@*', ''))
    return config, password


@contextlib.contextmanager
def root_logger_kept():
    """Undo, on leaving, what zope.conf's <eventlog> did to the root
    logger (handlers added, level changed)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield root
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)


def run_ops(*argv):
    """Run the operator command ``zodbtasks ARGV...`` in this process:
    its exit status and what it printed."""
    from zodbtasks.app import ops
    out = io.StringIO()
    status = ops.main(list(argv), out=out)
    return status, out.getvalue()
