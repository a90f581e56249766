"""Live views (issue 12): ``@@jobs.json``, what the Jobs tab's script
(``static/live.js``) polls to update the page in place: the counts by
status, the rows of the page the tab shows (same parameters as
``@@jobs.html``) with their progress, and a change marker (the database's
last transaction) that tells the script whether anything changed."""
import json

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser.jobs import JobsView


class JobsJSON(JobsView):
    """@@jobs.json"""

    def __call__(self, now=None):
        service = self.service
        now = clock.now() if now is None else now
        self.drawn_at = now
        total, jobs = self.query()
        counts = service.countByStatus()
        data = {
            'change': service._p_jar.db().lastTransaction().hex(),
            'now': now,
            'total': total,
            'counts': {status: counts[status]
                       for status in interfaces.STATUSES},
            'processing': service.isProcessing(),
            'rows': [self.live_row(job) for job in jobs],
        }
        response = self.request.response
        response.setHeader('Content-Type', 'application/json')
        response.setHeader('Cache-Control', 'no-store')
        return json.dumps(data)

    def live_row(self, job):
        progress = self.progress(job)
        return {
            'id': job.id, 'status': job.status,
            'progress': None if progress is None else round(progress[0], 4),
            'message': None if progress is None else progress[1],
            'started': self.moment(job.started),
            'completed': self.moment(job.completed),
            'duration': format.duration(job),
            'error': format.error_text(job.error, format.CELL_LIMIT),
        }
