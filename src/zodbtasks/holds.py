"""Holds: what keeps a ready job from being claimed without failing it or
counting an attempt: the service or the job's task paused, the task's
limits (``maxRunning``, ``perMinute``), or its ``serializationTag`` taken
by a running job.

``Holds(maps)`` is a view over what the service stores for them (made on
first use: services of 0.1 have none of it):

- ``_controls``: Controls (pause flags and limits; written by operators,
  read by every claim, so every process sees them at its next claim);
- ``_task_states``: OOBTree task -> TaskState (the running jobs and the
  recent start times of a task that has limits).  TaskState has no
  conflict resolution: two claims of a limited task conflict and one
  retries, which makes the limits strict across processes;
- ``_serial``: OOBTree serialization tag -> id of the job running with
  it.  Two claims taking one tag insert the same key and conflict;
- ``_parked``: OOBTree gate -> OrderTree (ready-queue key -> job id) of
  jobs pulled but held back, in their ready order; a gate is
  ('task', name) or ('serial', tag);
- ``_wake``: OOBTree gate -> the time from which its parked jobs are put
  back in the ready queue (0: at the next claim).

A parked job keeps its status (``queued``) and its place: it goes back
to the ready queue at the key it was pulled from.  Nothing here commits
or reads the clock.
"""
import persistent
from BTrees.OOBTree import OOBTree

from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import QUEUED
from zodbtasks.trees import OrderTree
from zodbtasks.trees import made

#: A minute, the window of ``perMinute``.
MINUTE = 60.0
#: Gates with parked jobs that one claim looks at for a lost wake-up.
REPAIR_GATES = 100


class Controls(persistent.Persistent):
    """Pause flags and task limits of a service."""

    def __init__(self):
        self.paused = False
        self.pausedTasks = frozenset()
        #: task -> (maxRunning, perMinute)
        self.limits = {}

    def limit(self, task):
        return self.limits.get(task, (None, None))


class TaskState(persistent.Persistent):
    """The running jobs (while ``maxRunning`` is set) and the last start
    times (while ``perMinute`` is set) of a task."""

    def __init__(self):
        self.running = frozenset()
        self.starts = ()

    def started_within(self, now):
        return [when for when in self.starts if when > now - MINUTE]


class Holds:
    """See the module docstring."""

    def __init__(self, maps):
        self.maps = maps
        self.service = maps.service
        self.jobs = maps.jobs

    def _tree(self, name):
        return made(self.service, name, OOBTree)

    def _get(self, name, key):
        tree = getattr(self.service, name, None)
        return tree.get(key) if tree is not None else None

    @property
    def controls(self):
        return made(self.service, '_controls', Controls)

    def peek_controls(self):
        """The controls, or None while nothing was ever paused or
        limited (no write)."""
        return getattr(self.service, '_controls', None)

    # -- operators -----------------------------------------------------------

    def paused(self, task=None):
        controls = self.peek_controls()
        if controls is None:
            return False
        if task is None:
            return controls.paused
        return task in controls.pausedTasks

    def pause(self, task=None):
        controls = self.controls
        if task is None:
            controls.paused = True
        else:
            controls.pausedTasks = controls.pausedTasks | {task}

    def resume(self, task=None):
        controls = self.controls
        if task is None:
            controls.paused = False
        else:
            controls.pausedTasks = controls.pausedTasks - {task}
            self.wake(('task', task), 0)

    def set_limit(self, task, max_running, per_minute):
        controls = self.controls
        limits = dict(controls.limits)
        if max_running is None and per_minute is None:
            limits.pop(task, None)
        else:
            limits[task] = (max_running, per_minute)
        controls.limits = limits
        state = self._get('_task_states', task)
        if state is None and task in limits:
            state = self._tree('_task_states')[task] = TaskState()
            state.running = frozenset(self._running_of(task))
        self.wake(('task', task), 0)

    def _running_of(self, task):
        index = self.maps.index
        return [jobid for jobid in index.ids_by_status(PROCESSING)
                if self.jobs[jobid].task == task
                and self.jobs[jobid].status == PROCESSING]

    # -- claims --------------------------------------------------------------

    def refusal(self, job, now):
        """None when ``job`` may be claimed at ``now``; else (gate, when):
        where it waits, and when to try it again (None: when woken)."""
        controls = self.peek_controls()
        task = job.task
        if controls is not None:
            if task in controls.pausedTasks:
                return ('task', task), None
            max_running, per_minute = controls.limit(task)
            state = self._get('_task_states', task)
            if state is not None:
                if max_running is not None \
                        and len(state.running) >= max_running:
                    return ('task', task), None
                if per_minute is not None:
                    recent = state.started_within(now)
                    if len(recent) >= per_minute:
                        return ('task', task), (
                            min(recent) + MINUTE if recent else now)
        tag = job.serializationTag
        if tag is not None:
            holder = self._get('_serial', tag)
            other = self.jobs.get(holder) if holder is not None else None
            if holder != job.id and other is not None \
                    and other.status == PROCESSING:
                return ('serial', tag), None
        return None

    def started(self, job, now):
        """``job`` is claimed at ``now``."""
        if job.serializationTag is not None:
            self._tree('_serial')[job.serializationTag] = job.id
        state = self._get('_task_states', job.task)
        if state is not None:
            max_running, per_minute = self.controls.limit(job.task)
            if max_running is not None:
                state.running = state.running | {job.id}
            if per_minute is not None:
                state.starts = tuple(
                    state.started_within(now)[-(per_minute - 1):]
                    if per_minute > 1 else ()) + (now,)
            elif state.starts:
                state.starts = ()

    def ends_batch(self, job):
        """Whether a claim takes no more jobs after ``job``: a job that
        holds a serialization tag or a slot of a limited task would keep
        it while its batch runs the jobs before it in one thread."""
        return job.serializationTag is not None or \
            self._get('_task_states', job.task) is not None

    def ended(self, job):
        """``job`` no longer runs: free what it held, wake who waits."""
        tag = job.serializationTag
        if tag is not None:
            serial = getattr(self.service, '_serial', None)
            if serial is not None and serial.get(tag) == job.id:
                del serial[tag]
                self.wake(('serial', tag), 0)
        state = self._get('_task_states', job.task)
        if state is not None and job.id in state.running:
            state.running = state.running - {job.id}
            self.wake(('task', job.task), 0)

    # -- parking -------------------------------------------------------------

    def park(self, job, gate, when, position):
        """Hold back pulled ``job`` (pulled from ``position``) at ``gate``
        until ``when`` (None: until woken)."""
        parked = self._tree('_parked')
        tree = parked.get(gate)
        if tree is None:
            tree = parked[gate] = OrderTree()
        tree[position] = job.id
        job.parkedOn, job.parkKey = gate, position
        if when is not None:
            self.wake(gate, when)

    def unpark(self, job):
        """Take a parked job out of its gate (it is cancelled, deleted or
        changed)."""
        tree = self._get('_parked', job.parkedOn)
        if tree is not None and tree.get(job.parkKey) == job.id:
            del tree[job.parkKey]
            if not tree:
                del self.service._parked[job.parkedOn]
        job.parkedOn = job.parkKey = None

    def wake(self, gate, when):
        """Let the jobs parked at ``gate`` go back from ``when``."""
        if self._get('_parked', gate) is None:
            return
        wake = self._tree('_wake')
        current = wake.get(gate)
        if current is None or when < current:
            wake[gate] = when

    def repair_wakes(self, now, limit=REPAIR_GATES):
        """Wake the gates (up to ``limit``) that have parked jobs, no wake
        time and room now.  A release and a park can commit at the same
        time without writing a common object (the release saw no parked
        job, the park saw the gate held); then no wake was set, and the
        next claim of any worker sets it here."""
        parked = getattr(self.service, '_parked', None)
        if not parked:
            return
        wake = getattr(self.service, '_wake', None)
        for count, gate in enumerate(parked.keys()):
            if count >= limit:
                break
            if (wake is None or gate not in wake) \
                    and self._room(gate, now) > 0:
                self.wake(gate, now)
                wake = self.service._wake

    def next_wake(self):
        """The earliest time parked jobs go back, or None."""
        wake = getattr(self.service, '_wake', None)
        return min(wake.values()) if wake else None

    def wake_due(self, now, budget, enqueue):
        """Put back up to ``budget`` parked jobs whose gate is due at
        ``now`` (``enqueue(job, key)`` places each); return how many."""
        wake = getattr(self.service, '_wake', None)
        if not wake:
            return 0
        moved = 0
        for gate, when in list(wake.items()):
            if when > now or moved >= budget:
                continue
            tree = self._get('_parked', gate)
            room = min(budget - moved, self._room(gate, now))
            while tree and room > 0:
                key = tree.minKey()
                job = self.jobs.get(tree.pop(key))
                if job is not None and job.status == QUEUED \
                        and job.parkedOn == gate:
                    job.parkedOn = job.parkKey = None
                    enqueue(job, key)
                    moved += 1
                    room -= 1
            if not tree:
                self.service._parked.pop(gate, None)
                del wake[gate]
            else:
                again = self._again(gate, now)
                if again is None:
                    del wake[gate]
                else:
                    wake[gate] = again
        return moved

    def _room(self, gate, now):
        """How many parked jobs of ``gate`` could be claimed now."""
        kind, name = gate
        if kind == 'serial':
            return 0 if self._get('_serial', name) is not None else 1
        controls = self.peek_controls()
        if controls is None:
            return 1 << 30
        if name in controls.pausedTasks:
            return 0
        max_running, per_minute = controls.limit(name)
        state = self._get('_task_states', name)
        room = 1 << 30
        if state is not None and max_running is not None:
            room = min(room, max_running - len(state.running))
        if state is not None and per_minute is not None:
            room = min(room, per_minute - len(state.started_within(now)))
        return max(room, 0)

    def _again(self, gate, now):
        """When to wake ``gate`` again while jobs are left parked: the end
        of the perMinute window, or None (a run's end or resume wakes)."""
        if gate[0] != 'task':
            return None
        state = self._get('_task_states', gate[1])
        controls = self.peek_controls()
        if state is None or controls is None \
                or controls.limit(gate[1])[1] is None:
            return None
        recent = state.started_within(now)
        return min(recent) + MINUTE if recent else now

    def parked_at(self, gate, key):
        """The id parked at ``gate`` under ``key``, or None."""
        tree = self._get('_parked', gate)
        return tree.get(key) if tree is not None else None

    def parked_count(self, gate):
        tree = self._get('_parked', gate)
        return len(tree) if tree is not None else 0

    def serial_holder(self, tag):
        return self._get('_serial', tag)

    def task_state(self, task):
        return self._get('_task_states', task)
