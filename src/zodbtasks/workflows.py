"""Groups and chains, the public side (a mixin of TaskService; the
stored part is ``zodbtasks.groups``)."""
import logging

from zodbtasks import clock
from zodbtasks import groups
from zodbtasks import identity
from zodbtasks.interfaces import FINISHED
from zodbtasks.runner import check_no_pending_changes
from zodbtasks.runner import transaction_manager_of
from zodbtasks.transactions import in_transaction

logger = logging.getLogger(__name__)


class Workflows:
    """See ITaskService (addGroup, getGroup, queryGroups, cleanGroup)."""

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

    def queryGroups(self, start=0, size=50):
        """See ITaskService."""
        for name, value in (('start', start), ('size', size)):
            if not isinstance(value, int) or isinstance(value, bool) \
                    or value < 0:
                raise ValueError('%s: expected a whole number >= 0, not '
                                 '%.80r' % (name, value))
        return groups.count(self), groups.newest(self, start, size)

    def cleanGroup(self, groupId):
        """See ITaskService."""
        from zodbtasks.service import BATCH_SIZE  # read when called
        refusal = groups.clean_refusal(self, groups.find(self, groupId))
        if refusal is not None:
            raise ValueError(refusal)
        check_no_pending_changes(self)
        tm = transaction_manager_of(self)
        removed, cursor = 0, 0
        while cursor is not None:
            try:
                done, cursor = in_transaction(
                    tm, self._clean_group_batch, groupId, cursor, BATCH_SIZE)
            except ValueError as exc:
                raise ValueError('%s (%d of its jobs were removed before '
                                 'it changed)' % (exc, removed)) from exc
            removed += done
        logger.info('group %s cleaned: %d jobs removed', groupId, removed)
        return removed

    def _clean_group_batch(self, gid, cursor, limit):
        """Remove up to ``limit`` jobs of group ``gid`` (its members, then
        its callback) from position ``cursor`` on, skipping those already
        gone, and forget the group after its last job; return (how many
        were removed, the next cursor, or None when the group is gone)."""
        group = getattr(self, '_groups', {}).get(gid)
        if group is None:
            return 0, None      # another process cleaned it meanwhile
        refusal = groups.clean_refusal(self, group)
        if refusal is not None:   # it changed since the last batch
            raise ValueError(refusal)
        ids = group.jobIds + ((group.callbackId,)
                              if group.callbackId is not None else ())
        maps, removed = self._maps(), 0
        while cursor < len(ids) and removed < limit:
            job = self.jobs.get(ids[cursor])
            cursor += 1
            if job is None:
                continue
            maps.settle(job)
            if job.status not in FINISHED:
                raise ValueError('group %d: its job %d is %s'
                                 % (gid, job.id, job.status))
            maps.remove(job)
            removed += 1
        self._release(maps)
        if cursor < len(ids):
            return removed, cursor
        groups.forget(self, gid)
        return removed, None

    def _add_next_step(self, job):
        """Add the chain step after ``job``, which completed (in the
        transaction that folds it)."""
        task, data = job.then[0], job.then[1]
        options = dict(job.then[2]) if len(job.then) == 3 else {}
        data = dict(data or {})
        data['result'] = job.output
        options.setdefault('runAs', identity.Identity(job.runAs,
                                                      job.runContext))
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
