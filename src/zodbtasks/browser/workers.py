"""The Workers tab: every worker process that claimed jobs of the
service (over ZEO or RelStorage, all processes of the database), alive
or lost, with its processor threads, its last heartbeat, the jobs it
runs with their progress and how many it finished in the last hour
(``zodbtasks.stats``), and the jobs of lost workers that wait for a
sweeper."""
from zope.browserpage.viewpagetemplatefile import ViewPageTemplateFile

from zodbtasks import clock
from zodbtasks import stats
from zodbtasks.browser import format
from zodbtasks.browser.jobs import ServiceView

#: The most running jobs listed per worker (the count says how many).
RUNNING_SHOWN = 50


class WorkersView(ServiceView):
    """@@workers.html"""

    template = ViewPageTemplateFile('templates/workers.pt')
    live_regions = ('zt-workers-live',)

    def __call__(self, now=None):
        self.now = self.drawn_at = clock.now() if now is None else now
        return self.template()

    def lease_timeout(self):
        return format.age(self.service.leaseTimeout)

    def workers(self):
        """A row per worker process (threads of one process share the
        part of their id before '/'), alive ones first."""
        processes = {}
        for record in self.service.workers(now=self.now):
            processes.setdefault(record['id'].partition('/')[0],
                                 []).append(record)
        rows = [self._process(key, threads)
                for key, threads in processes.items()]
        rows.sort(key=lambda row: (not row['alive'], row['id']))
        return rows

    def _process(self, key, threads):
        host, _, rest = key.partition(':')
        records = self.service._workers
        since = self.now - 3600
        running = [jobid for thread in threads
                   for jobid in thread['running']]
        alive = any(thread['alive'] for thread in threads)
        heartbeat = max(thread['heartbeat'] for thread in threads)
        started = min(thread['started'] for thread in threads)
        return {
            'id': key, 'host': host, 'pid': rest.partition(':')[0],
            'alive': alive, 'state': 'alive' if alive else 'lost',
            'threads': sorted(thread['id'] for thread in threads),
            'started': self.moment(started),
            'heartbeat': self.moment(heartbeat),
            'heartbeat_age': format.age(max(0.0, self.now - heartbeat)),
            'finished_hour': sum(
                stats.worker_finished(records[thread['id']], since)
                for thread in threads if thread['id'] in records),
            'count': len(running),
            'running': [self._job(jobid)
                        for jobid in running[:RUNNING_SHOWN]],
        }

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
            'started': self.moment(getattr(job, 'started', None)),
        }
