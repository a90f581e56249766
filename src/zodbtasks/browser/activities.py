"""The activity controls of the Overview tab: pausing and resuming the
service or a task, task limits, and the waiting jobs per priority.

Every action is a POST checked by ``ServiceView.check_post`` (CSRF token
and zodbtasks.ManageJobs); a refused value is shown beside its field and
changes nothing.
"""
from zodbtasks import clock
from zodbtasks import interfaces
from zodbtasks.browser import fields
from zodbtasks.browser.fields import FieldError

#: The limit form's fields: name, label.
LIMIT_FIELDS = (('maxRunning', 'At most running at once'),
                ('perMinute', 'At most started per minute'))


def parse_limit(form):
    """(task, maxRunning, perMinute) of the limit form ('' is no limit);
    raises FieldErrors naming each field that is wrong."""
    errors, values = {}, {}
    for name in ('limitTask',) + tuple(f[0] for f in LIMIT_FIELDS):
        try:
            values[name] = fields.text(form, name)
        except FieldError as exc:
            errors[name] = str(exc)
    if not errors.get('limitTask') and not values.get('limitTask'):
        errors['limitTask'] = 'choose the task to limit'
    for name, _ in LIMIT_FIELDS:
        if name in errors:
            continue
        try:
            number = fields.whole_number(name, values[name])
        except FieldError as exc:
            errors[name] = str(exc)
            continue
        if number is not None and number < 0:
            errors[name] = ('%s: %d is below 0 (0: none start; empty: no '
                            'limit)' % (name, number))
        values[name] = number
    if errors:
        raise fields.FieldErrors(errors)
    return values['limitTask'], values['maxRunning'], values['perMinute']


class ActivityControls:
    """A mixin of the Overview and Tasks views (ServiceViews): their
    ``__call__`` reads ``now`` once and does what a POST asks."""

    limit_fields = [{'name': name, 'label': label}
                    for name, label in LIMIT_FIELDS]

    def __call__(self, now=None):
        self.now = self.drawn_at = clock.now() if now is None else now
        self.limit_errors = {}
        if self.request.method == 'POST' and self.check_post():
            self.message = self.act()
        return self.template()

    def act(self):
        """Do what the POSTed form asks; the message to show, or None
        (with ``self.error`` or ``self.limit_errors`` set)."""
        form, service = self.request.form, self.service
        if 'pauseService' in form:
            service.pause()
            return ('The service is paused: no process claims a job until '
                    'it is resumed (running jobs finish).')
        if 'resumeService' in form:
            service.resume()
            return 'The service is resumed: jobs are claimed again.'
        for action, method, done in (('pauseTask', service.pause, 'paused'),
                                     ('resumeTask', service.resume,
                                      'resumed')):
            if action in form:
                return self.task_action(method, done)
        if 'setLimit' in form:
            return self.set_limit()
        return None

    def task_action(self, method, done):
        task = self.request.form.get('task')
        if not isinstance(task, str) or not task:
            return self.refuse_input('Choose one task to %s.' % done[:-1])
        try:
            method(task)
        except (LookupError, ValueError) as exc:
            return self.refuse_input(fields.message_of(exc))
        return 'Task %r %s.' % (task, done)

    def set_limit(self):
        try:
            task, max_running, per_minute = parse_limit(self.request.form)
            self.service.setTaskLimit(task, maxRunning=max_running,
                                      perMinute=per_minute)
        except fields.FieldErrors as exc:
            self.limit_errors.update(exc.errors)
        except (LookupError, ValueError) as exc:  # unknown task, refusals
            message = fields.message_of(exc)
            name = message.partition(':')[0]
            self.limit_errors[name if name in ('maxRunning', 'perMinute')
                              else 'limitTask'] = message
        else:
            if max_running is None and per_minute is None:
                return 'Task %r has no limits now.' % task
            return 'Limits of task %r set.' % task
        return self.refuse_input('Please correct the marked fields.')

    def refuse_input(self, message):
        self.refuse(400, message)
        return None

    # -- what the page shows ---------------------------------------------

    def paused(self):
        return self.service.isPaused()

    def paused_tasks(self):
        return self.service.pausedTasks()

    def task_rows(self):
        """Each available task (and each paused one no longer available):
        name, whether it is paused, its limits."""
        service = self.service
        paused = set(service.pausedTasks())
        limits = self.limits()
        return [{'name': name, 'paused': name in paused,
                 'limits': limits.get(name)}
                for name in sorted(set(service.getAvailableTasks()) | paused)]

    def limits(self):
        if not hasattr(self, '_limits'):
            self._limits = self.service.getTaskLimits(now=self.now)
        return self._limits

    def limit_rows(self):
        return [dict(limit, task=task,
                     maxRunningText=_limit_text(limit['maxRunning']),
                     perMinuteText=_limit_text(limit['perMinute']))
                for task, limit in sorted(self.limits().items())]

    def task_names(self):
        return sorted(self.service.getAvailableTasks())

    def limit_value(self, name):
        """What the limit form shows: what was sent when it was refused."""
        value = self.request.form.get(name, '') if self.limit_errors else ''
        return value if isinstance(value, str) else ''

    def priorities(self):
        """(priority, waiting jobs), lowest (earliest) first, from the
        index's priority tally: the jobs that wait to run (queued,
        delayed, blocked, ...), not the failed ones that
        ``countByPriority`` counts too (as CMFActivity does)."""
        if not hasattr(self, '_priorities'):
            service = self.service
            self._priorities = [
                {'priority': priority, 'count': count}
                for priority, count in service._index.count_by_priority(
                    service.jobs, interfaces.WAITING).items()]
        return self._priorities


def _limit_text(value):
    return 'no limit' if value is None else str(value)
