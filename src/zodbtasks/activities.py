"""The operators' side of activities on a task service: pausing and
resuming, task limits, and what a job waits for (a mixin of
TaskService; the state lives in ``zodbtasks.holds`` and
``zodbtasks.dependencies``).
"""
import collections
import itertools

from zodbtasks import clock
from zodbtasks import options
from zodbtasks import waitreason
from zodbtasks.interfaces import COMPLETED
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import STATUSES

#: The most jobs of one status ``countActivities`` looks at one by one
#: (for their priority and worker); the rest are counted by task only.
ACTIVITY_SCAN = 50000


class Activities:
    """See ITaskService (pause, resume, isPaused, setTaskLimit,
    getTaskLimits, getWaitReason, getWaitChain, getDependents)."""

    def pause(self, task=None):
        """See ITaskService."""
        self._maps().holds.pause(self._known_task(task))

    def resume(self, task=None):
        """See ITaskService."""
        self._maps().holds.resume(self._known_task(task))

    def isPaused(self, task=None):
        """See ITaskService."""
        return self._maps().holds.paused(task)

    def pausedTasks(self):
        """See ITaskService."""
        controls = self._maps().holds.peek_controls()
        return sorted(controls.pausedTasks) if controls is not None else []

    def setTaskLimit(self, task, maxRunning=None, perMinute=None):
        """See ITaskService."""
        task = self._known_task(task)
        if task is None:
            raise ValueError('setTaskLimit: a task name is required')
        self._maps().holds.set_limit(
            task, options.limit(maxRunning, 'maxRunning'),
            options.limit(perMinute, 'perMinute'))

    def getTaskLimits(self, now=None):
        """See ITaskService."""
        now = clock.now() if now is None else now
        holds = self._maps().holds
        controls = holds.peek_controls()
        limits = {}
        for task, (max_running, per_minute) in sorted(
                (controls.limits if controls is not None else {}).items()):
            state = holds.task_state(task)
            limits[task] = {
                'maxRunning': max_running, 'perMinute': per_minute,
                'running': len(state.running) if state is not None else 0,
                'startedLastMinute': len(state.started_within(now))
                if state is not None else 0,
                'held': holds.parked_count(('task', task))}
        return limits

    def getWaitReason(self, jobid, now=None):
        """See ITaskService."""
        maps = self._maps()
        return waitreason.wait_reason(maps, self.jobs[jobid],
                                      clock.now() if now is None else now)

    def getWaitChain(self, jobid, now=None):
        """See ITaskService."""
        maps = self._maps()
        return waitreason.chain(maps, self.jobs[jobid],
                                clock.now() if now is None else now)

    def getDependents(self, jobid):
        """See ITaskService."""
        self.jobs[jobid]
        return self._maps().deps.watchers_of(jobid)

    def countActivities(self, scan=ACTIVITY_SCAN):
        """See ITaskService."""
        index = self._index
        rows = collections.Counter()
        for status in STATUSES:
            if status == COMPLETED:
                continue
            seen = collections.Counter()
            for jobid in itertools.islice(index.ids_by_status(status), scan):
                job = self.jobs.get(jobid)
                if job is None:
                    continue
                worker = job.owner if status == PROCESSING else None
                rows[(job.task, status, job.priority, worker)] += 1
                seen[job.task] += 1
            if index.by_status.count(status) > scan:
                for task in index.by_task.values():
                    rest = index.count_by_status_and_task(status, task) \
                        - seen[task]
                    if rest > 0:
                        rows[(task, status, None, None)] += rest
        return [{'task': task, 'status': status, 'priority': priority,
                 'worker': worker, 'count': count}
                for (task, status, priority, worker), count in sorted(
                    rows.items(), key=lambda item: (
                        item[0][0], STATUSES.index(item[0][1]),
                        item[0][2] if item[0][2] is not None else 1 << 62,
                        item[0][3] or ''))]

    def countByPriority(self, scan=ACTIVITY_SCAN):
        """See ITaskService."""
        counts = collections.Counter()
        for row in self.countActivities(scan):
            if row['status'] != PROCESSING and row['priority'] is not None:
                counts[row['priority']] += row['count']
        return dict(sorted(counts.items()))

    def knownTasks(self):
        """See ITaskService."""
        controls = self._maps().holds.peek_controls()
        names = set(self._index.by_task.values())
        if controls is not None:
            names |= set(controls.pausedTasks) | set(controls.limits)
        return sorted(names | set(self.getAvailableTasks()))

    def _known_task(self, task):
        """``task`` when it is None, registered, or known to the service
        (it has jobs, or is paused or limited: an operator command that
        does not load the application's tasks may name it)."""
        if task is None:
            return None
        if not isinstance(task, str):
            raise ValueError('task: expected a task name, not %.80r'
                             % (task,))
        if self._index.by_task.count(task) or self.isPaused(task) \
                or task in self.getTaskLimits():
            return task
        self.getTask(task)  # UnknownTaskError
        return task
