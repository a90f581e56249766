"""Whether a service's indexes match its jobs: a helper for the tests,
over the public API and reads of ``service._index``.

Valid when every worker has folded what it finished (its workers stopped
or were swept): until then, a finished job is still indexed as
``processing`` (see ``zodbtasks.dispatch``).
"""


def statuses_of_jobs(service):
    """``{status: {jobid, ...}}`` read from the jobs themselves."""
    statuses = {}
    for job in service.jobs.values():
        statuses.setdefault(job.status, set()).add(job.id)
    return statuses


def index_mismatches(service):
    """What the indexes say and the jobs do not, as sentences (an empty
    list when ``countByStatus()`` equals the statuses of the jobs and
    every job's id is in its status set, and in no other)."""
    statuses = statuses_of_jobs(service)
    counts = service.countByStatus()
    problems = []
    for status in sorted(set(statuses) | {s for s, n in counts.items()
                                          if n}):
        ids = statuses.get(status, set())
        if counts.get(status, 0) != len(ids):
            problems.append('countByStatus()[%r] is %d, %d jobs are %r' % (
                status, counts.get(status, 0), len(ids), status))
        indexed = set(service._index.ids_by_status(status))
        if ids - indexed:
            problems.append('%d %r jobs are missing from their status set, '
                            'e.g. %s' % (len(ids - indexed), status,
                                         sorted(ids - indexed)[:5]))
        if indexed - ids:
            problems.append('the %r set holds %d jobs of another status, '
                            'e.g. %s' % (status, len(indexed - ids),
                                         sorted(indexed - ids)[:5]))
    return problems
