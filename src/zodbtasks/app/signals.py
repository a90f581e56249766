"""How the server and the worker stop: the first SIGINT or SIGTERM
raises KeyboardInterrupt in the main thread (so the process stops
cleanly, as on Ctrl-C), a second one ends the process at once."""
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def stop_on_signals():
    """Make SIGINT and SIGTERM raise KeyboardInterrupt once."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)


def _stop(signum, frame):
    for other in STOP_SIGNALS:
        signal.signal(other, signal.SIG_DFL)
    raise KeyboardInterrupt(signal.Signals(signum).name)
