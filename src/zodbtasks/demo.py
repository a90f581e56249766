"""A short demo on an embedded FileStorage: ``python -m zodbtasks.demo
FOLDER`` adds jobs to a task service, processes them in its thread and
prints what happened.  ``make run`` runs it in ``var/``."""
import argparse
import os
import threading

import transaction

from zodbtasks import processor
from zodbtasks import testing
from zodbtasks.task import TaskError


def echo(input):
    """Return the input."""
    return input


def fail(input):
    """Fail, as a task does when something it needs is missing."""
    raise TaskError('demo failure: %s' % (input,))


def add_demo_jobs(service):
    """Queue a few jobs and a cron job; return their ids."""
    return [
        service.add('echo', {'hello': 'world'}),
        service.add('fail', 'no mail server'),
        service.add('echo', 'started later', startLater=True),
        service.addCronJob('echo', 'every minute', cron='* * * * *'),
    ]


def run(folder, out=print):
    os.makedirs(folder, exist_ok=True)
    testing.register_task('echo', echo)
    testing.register_task('fail', fail)
    db = testing.create_database(folder, 'demo.fs')
    conn = db.open()
    root = testing.setup_root(conn)
    if 'demo' not in root:
        testing.add_service(testing.add_site(root, 'demo'), 'jobs')
    service = root['demo'].getSiteManager()['default']['jobs']
    ids = add_demo_jobs(service)
    transaction.commit()
    out('Database: %s' % os.path.join(folder, 'demo.fs'))
    done = threading.Event()
    testing.register_task('done', lambda input: done.set())
    service.startProcessing()
    service.startJob(ids[2])
    service.add('done')
    transaction.commit()
    done.wait(30)
    processor.stop_all()  # stop and join the thread
    transaction.begin()
    for jobid in ids:
        job = service.jobs[jobid]
        out('job %s  %-8s %-10s result=%r error=%r' % (
            jobid, job.task, job.status, job.output, job.error))
    out('Jobs per status: %s' % {
        k: v for k, v in service.countByStatus().items() if v})
    transaction.abort()
    conn.close()
    testing.close_database(db)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('folder', nargs='?', default='var')
    run(parser.parse_args(argv).folder)


if __name__ == '__main__':
    main()
