"""Live views (issue 12): ``@@jobs.json``, what the pages' script
(``static/live.js``) polls to update them in place: the counts by
status, the workers, a change marker (the database's last transaction)
that tells the script whether anything changed, and, unless ``summary``
is asked for, the rows of the page the Jobs tab shows (same parameters
as ``@@jobs.html``) with their progress.  The Overview, Tasks, Workers
and job pages ask for the summary and redraw their live parts
(``live_regions``) from the page itself when the marker moved."""
import json

from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.browser import format
from zodbtasks.browser.jobs import JobsView
from zodbtasks.browser.jobs import change_marker


class JobsJSON(JobsView):
    """@@jobs.json"""

    def __call__(self, now=None):
        service = self.service
        now = clock.now() if now is None else now
        self.drawn_at = now
        counts = service.countByStatus()
        data = {
            'change': change_marker(service),
            'now': now,
            'counts': {status: counts[status]
                       for status in interfaces.STATUSES},
            'processing': service.isProcessing(),
            'workers': self.live_workers(now),
        }
        if not self.request.form.get('summary'):
            data['total'], jobs = self.query()
            data['rows'] = [self.live_row(job) for job in jobs]
        response = self.request.response
        response.setHeader('Content-Type', 'application/json')
        response.setHeader('Cache-Control', 'no-store')
        return json.dumps(data)

    def live_workers(self, now):
        return [{'id': record['id'], 'alive': record['alive'],
                 'heartbeat_age': round(max(0.0, now - record['heartbeat']),
                                        1),
                 'running': len(record['running'])}
                for record in self.service.workers(now=now)]

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
