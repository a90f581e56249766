"""The Tasks tab: per task, its waiting, running and failed jobs (the
index's task tally, no job is read), what it finished in the last hour
with its failure rate and its p50/p95 run time (``zodbtasks.stats``),
whether it is paused, its limits, and buttons to pause and resume it.

The actions are the Overview's (``ActivityControls``): POSTs checked for
the CSRF token and zodbtasks.ManageJobs."""
import urllib.parse

from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import stats
from zodbtasks.browser import format
from zodbtasks.browser.activities import ActivityControls
from zodbtasks.browser.jobs import ServiceView
from zodbtasks.interfaces import ERROR
from zodbtasks.interfaces import PROCESSING
from zodbtasks.interfaces import WAITING

#: Seconds of figures the per-task rates and run times cover.
WINDOW = 3600


class TasksView(ActivityControls, ServiceView):
    """@@tasks.html"""

    template = ViewPageTemplateFile('templates/tasks.pt')
    live_regions = ('zt-tasks-live',)

    def window(self):
        """task -> Tally of the last WINDOW seconds."""
        if not hasattr(self, '_window'):
            self._window = stats.tasks_between(
                self.service, self.now - WINDOW, self.now + 60)
        return self._window

    def rows(self):
        service, index = self.service, self.service._index
        window = self.window()
        names = {row['name']: row for row in self.task_rows()}
        tasks = sorted(set(names) | set(index.count_by_task()) | set(window))
        rows = []
        for task in tasks:
            count = lambda status: index.count_by_status_and_task(status, task)
            tally = window.get(task)
            runs = tally.runs if tally is not None else 0
            failed = tally.failed + tally.retried if tally is not None else 0
            state = names.get(task, {'paused': task in
                                     service.pausedTasks(), 'limits': None})
            limits = state['limits'] or {}
            rows.append({
                'name': task,
                'url': self._jobs_url(task=task),
                'waiting': sum(count(status) for status in WAITING),
                'running': count(PROCESSING),
                'failed': count(ERROR),
                'waiting_url': self._jobs_url(task=task, status='queued'),
                'running_url': self._jobs_url(task=task, status=PROCESSING),
                'failed_url': self._jobs_url(task=task, status=ERROR),
                'finished_hour': tally.finished + tally.retried
                if tally is not None else 0,
                'failure_rate': '%.1f %%' % (100.0 * failed / runs)
                if runs else '',
                'p50': _seconds(tally, 0.5),
                'p95': _seconds(tally, 0.95),
                'paused': state['paused'],
                'available': task in names,
                'max_running': _limit(limits.get('maxRunning')),
                'per_minute': _limit(limits.get('perMinute')),
            })
        return rows

    def _jobs_url(self, **query):
        return '%s/@@jobs.html?%s' % (self.url, urllib.parse.urlencode(query))


def _seconds(tally, q):
    if tally is None:
        return ''
    value = stats.quantile(tally.run_buckets, q)
    return '' if value is None else format.age(value)


def _limit(value):
    return '' if value is None else str(value)
