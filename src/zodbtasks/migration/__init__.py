"""Migrating lovely.remotetask 0.5.2 and z3c.taskqueue 0.2.1 services to
zodbtasks (``zodbtasks migrate``; the procedure: docs/migrating.rst).

The legacy layouts (read from both packages' published sources; z3c's
``BaseTaskService`` is lovely's ``TaskService`` factored out, with the
same state):

- The service, ``lovely.remotetask.service.TaskService`` or
  ``z3c.taskqueue.service.TaskService`` (``Contained``, ``Persistent``),
  is stored in a site manager's folder (``sm['default'][key]``; z3c's
  tests store it in the root folder itself) and registered as a named
  utility of the package's ``interfaces.ITaskService``; the utility name
  may differ from the folder key.  Its state: ``__parent__``,
  ``__name__``; ``jobs``, an ``IOBTree`` (``BTrees.family32``) of job id
  -> job, ids drawn at random below 2**31; ``_queue``, a
  ``zc.queue.Queue`` (``_data``: a tuple) of the queued jobs
  themselves, in order; ``_scheduledJobs``, an ``IOBTree`` of epoch
  second (int) -> tuple of the cron and delayed jobs due then;
  ``_scheduledQueue``, a ``zc.queue.Queue`` of the cron and delayed jobs
  added (or rescheduled) since a processor last looked, which the
  processor moves into ``_scheduledJobs`` computing their next call
  from its ``now``.  ``taskInterface``, ``processorFactory``,
  ``processorArguments`` are class attributes (stored only when set on
  the instance).
- A job, ``<package>.job.Job``: ``id``, ``task`` (the ITask utility's
  name), ``status``, ``input``, ``output``, ``error``, ``created``,
  ``started``, ``completed``, each in ``__dict__`` once set
  (``FieldProperty``); the times are naive local ``datetime.now()``
  values.  lovely keeps the exception itself as ``error`` (a
  ``TaskError`` or any exception after the first three runs of a
  thread), z3c.taskqueue its text (``setError``).
- A cron job, ``<package>.job.CronJob(Job)``, adds ``minute``, ``hour``,
  ``dayOfMonth``, ``month``, ``dayOfWeek`` (tuples; all given ones must
  match, in UTC; day of week Monday=0), ``delay`` (int seconds or None:
  0 is stored as None) and ``scheduledFor`` (a naive local datetime of
  the next call).  With a delay it is a *delayed* job: it runs once
  (status ``delayed``, then ``completed`` or ``error``); without, a
  repeating one (status ``cronjob`` for good: errors are recorded on it,
  the status stays).
- Statuses: ``queued``, ``processing`` (declared, never set by either
  package), ``cancelled``, ``error``, ``completed``, ``delayed``,
  ``cronjob``, ``start later`` (with a space: ``add(...,
  startLater=True)``; the job is in no queue until ``startJob`` puts it
  in ``_queue``).  A processor pulls a job from its queue and runs it in
  one transaction, but the MultiProcessor commits the pull first: a job
  whose run then failed to commit stays ``queued`` (or ``delayed``) in
  no queue, and never runs.

How each maps onto zodbtasks: ``zodbtasks.migration.convert``; reading
the objects whether their classes import or not: ``.legacy``; the order
and resumption of the copy: ``.entries``, ``.record``, ``.migrate``;
storing a job with its own id and status: ``.placing``.
"""
