"""A processor's heartbeat thread: it renews the worker's lease every
``heartbeatInterval`` while jobs run, and indexes the deferred claims of
the jobs that have run for ``folding.SHOW_RUNNING`` (a long job must not
look queued in the lists), each in a transaction of its own, in a
connection of its own: the processor's connection is busy with the job.

A missed beat (a conflict, the storage away) is logged at debug level;
the next one counts.  Nothing here ends the thread but ``stop()``.
"""
import logging
import threading
import time

from transaction.interfaces import TransientError

from zodbtasks import clock
from zodbtasks import folding
from zodbtasks import storage
from zodbtasks.dispatch import Dispatch
from zodbtasks.transactions import in_transaction
from zodbtasks.transactions import own_connection

logger = logging.getLogger(__name__)


class Heartbeat(threading.Thread):
    """The heartbeat thread of ``processor`` (see the module docstring);
    it reads the processor's ``db``, ``serviceOid``, ``owner`` and
    ``draining_since`` (when its current drain began, or None)."""

    def __init__(self, processor):
        super().__init__(name=processor.name + '.heartbeat', daemon=True)
        self.processor = processor
        self._stop_event = threading.Event()

    def stop(self):
        self._stop_event.set()
        if self.is_alive():
            self.join(10.0)

    def run(self):
        with own_connection(self.processor.db) as (connection, tm):
            service = connection.get(self.processor.serviceOid)
            interval = service.heartbeatInterval
            step = min(interval, folding.SHOW_RUNNING)
            next_beat = time.monotonic() + interval
            while not self._stop_event.wait(step):
                if time.monotonic() >= next_beat:
                    self.beat(service, tm)
                    next_beat = time.monotonic() + interval
                self.show_running(service, tm)

    def beat(self, service, tm):
        """Renew the worker's lease."""
        self._quietly(service, tm, 'heartbeat', lambda dispatch, owner:
                      dispatch.heartbeat(owner, clock.now()))

    def show_running(self, service, tm):
        """While the processor drains for SHOW_RUNNING seconds or more,
        index the deferred claims of the jobs it has run that long."""
        since = self.processor.draining_since
        if since is None or time.monotonic() - since < folding.SHOW_RUNNING:
            return
        self._quietly(service, tm, 'indexing the long jobs',
                      lambda dispatch, owner: dispatch.indexRunning(
                          owner, clock.now()))

    def _quietly(self, service, tm, what, step):
        owner = self.processor.owner
        try:
            in_transaction(tm, lambda: step(Dispatch(service), owner),
                           attempts=1)
        except (TransientError, storage.StorageUnavailable) as exc:
            logger.debug('%s of %s missed (%s); the next one counts', what,
                         owner, exc)
        except Exception:  # a failed commit must not end the heartbeat
            logger.exception('%s of %s failed', what, owner)
            storage.reset_connection(service._p_jar)
