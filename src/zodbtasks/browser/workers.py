"""The Workers tab: every worker process that claimed jobs of the
service (over ZEO or RelStorage, all processes of the database), alive
or lost, with its last heartbeat and the jobs it runs, and the jobs of
lost workers that wait for a sweeper."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import clock
from zodbtasks.browser import format
from zodbtasks.browser.jobs import ServiceView

#: The most running jobs listed per worker (the count says how many).
RUNNING_SHOWN = 50


class WorkersView(ServiceView):
    """@@workers.html"""

    template = ViewPageTemplateFile('templates/workers.pt')

    def __call__(self, now=None):
        self.now = clock.now() if now is None else now
        return self.template()

    def lease_timeout(self):
        return format.age(self.service.leaseTimeout)

    def workers(self):
        rows = []
        service = self.service
        for record in sorted(service.workers(now=self.now),
                             key=lambda record: (not record['alive'],
                                                 record['id'])):
            host, _, rest = record['id'].partition(':')
            pid = rest.partition(':')[0]
            running = list(record['running'])
            rows.append({
                'id': record['id'], 'host': host, 'pid': pid,
                'alive': record['alive'],
                'state': 'alive' if record['alive'] else 'lost',
                'started': format.when(record['started']),
                'heartbeat': format.when(record['heartbeat']),
                'heartbeat_age': format.age(
                    max(0.0, self.now - record['heartbeat'])),
                'count': len(running),
                'running': [self._job(jobid)
                            for jobid in running[:RUNNING_SHOWN]],
            })
        return rows

    def stuck(self):
        return [self._job(job.id) for job in
                self.service.stuckJobs(now=self.now)][:RUNNING_SHOWN]

    def _job(self, jobid):
        job = self.service.jobs.get(jobid)
        progress = self.service.getProgress(jobid)
        fraction = progress[0] if progress else None
        return {
            'id': jobid, 'url': '%s/%s' % (self.url, jobid),
            'task': job.task if job is not None else '(removed)',
            'percent': None if fraction is None else round(100 * fraction),
            'message': progress[1] if progress else None,
            'started': format.when(getattr(job, 'started', None)),
        }
