"""Groups and chains, the public side (a mixin of TaskService; the
stored part is ``zodbtasks.groups``)."""
import logging

from zodbtasks import clock
from zodbtasks import groups

logger = logging.getLogger(__name__)


class Workflows:
    """See ITaskService (addGroup, getGroup)."""

    def addGroup(self, jobs, then=None, tag=None, onFailure='wait',
                 now=None):
        """See ITaskService."""
        if onFailure not in groups.ON_FAILURE:
            raise ValueError('onFailure: expected one of %s, not %.80r'
                             % (', '.join(map(repr, groups.ON_FAILURE)),
                                onFailure))
        then = groups.check_then(then)
        specs = [_member(spec, position)
                 for position, spec in enumerate(list(jobs))]
        if not specs:
            raise ValueError('jobs: a group needs at least one job')
        now = clock.now() if now is None else now
        for keywords in specs:  # check every member before adding any
            self.getTask(keywords['task'])
        ids = []
        for keywords in specs:
            keywords = dict(keywords, now=now)
            if tag is not None:
                own = keywords.get('tag', ())
                own = (own,) if isinstance(own, str) else tuple(own)
                keywords['tag'] = own + ((tag,) if isinstance(tag, str)
                                         else tuple(tag))
            ids.append(self.add(keywords.pop('task'),
                                keywords.pop('input', None), **keywords))
        group = groups.new_group(self, ids, onFailure, now)
        for position, jobid in enumerate(ids):
            job = self.jobs[jobid]
            job.group, job.groupIndex = group.id, position
            if job.status in ('completed', 'error', 'cancelled'):
                groups.member_changed(self, job, None, job.status)
        if then is not None:
            options = dict(then[2]) if len(then) == 3 else {}
            options.setdefault('tag', tag if tag is not None else ())
            callback = self.add(then[0], then[1], after=ids,
                                onDependencyFailure=onFailure, now=now,
                                **options)
            self.jobs[callback].callbackOf = group.id
            group.callbackId = callback
        return group.id

    def getGroup(self, groupId):
        """See ITaskService."""
        return groups.find(self, groupId)

    def _add_next_step(self, job):
        """Add the chain step after ``job``, which completed (in the
        transaction that folds it)."""
        task, data = job.then[0], job.then[1]
        options = dict(job.then[2]) if len(job.then) == 3 else {}
        data = dict(data or {})
        data['result'] = job.output
        options.setdefault('runAs', job.runAs)
        job.then = None
        try:
            return self.add(task, data, now=job.completed, **options)
        except (LookupError, ValueError, TypeError) as exc:
            # Raised here, it would fail every claim that folds the job:
            # the step is dropped, and the job says why.
            logger.error('job %s: its chain step was not added: %s',
                         job.id, exc)
            job.error = 'its chain step was not added: %s' % (exc,)
            return None


def _member(spec, position):
    """``add()`` keywords of member ``spec``: (task, input) or a dict."""
    if isinstance(spec, tuple) and len(spec) == 2:
        return {'task': spec[0], 'input': spec[1]}
    if isinstance(spec, dict) and 'task' in spec:
        return dict(spec)
    raise ValueError('jobs: member %d: expected (task, input) or a dict of '
                     'add() keywords with a task, not %.80r'
                     % (position, spec))
