"""Jobs added through the ZMI run as the manager who added them: a task
that checks a permission has it; a job run as the unauthenticated
principal lacks it."""
import pytest
import zope.component
from zope.security import checkPermission

from zodbtasks import testing
from zodbtasks.interfaces import ITask

from .conftest import SERVICE

ADD = SERVICE + '/@@addJob.html'


@pytest.fixture
def guarded(demo):
    """The task 'guarded' returns whether its principal may manage jobs
    of the service."""
    def guard(input):
        return checkPermission('zodbtasks.ManageJobs', demo.service)
    task = testing.register_task('guarded', guard)
    yield
    zope.component.getGlobalSiteManager().unregisterUtility(
        task, ITask, name='guarded')


def test_a_job_added_in_the_zmi_runs_as_the_manager(manager, demo, guarded):
    form = manager.get(ADD).forms[0]
    form['task'] = 'guarded'
    form['input'] = 'null'
    page = form.submit('save').follow()
    assert page.html.find(id='zt-added-by').text == 'zodbtasks.admin'
    demo.sync()
    [jobid] = [jobid for jobid, job in demo.service.jobs.items()
               if job.task == 'guarded']
    assert demo.service.jobs[jobid].runAs == 'zodbtasks.admin'
    demo.service.process()
    assert demo.service.getResult(jobid) is True
    jobs = manager.get(SERVICE + '/@@jobs.html')
    assert 'zodbtasks.admin' in jobs.html.find(id='zt-job-%d' % jobid).text


def test_a_job_run_as_the_unauthenticated_principal_lacks_it(demo, guarded):
    jobid = demo.service.add('guarded', runAs='zope.anybody')
    system = demo.service.add('guarded')          # no interaction: system
    demo.commit()
    demo.service.process()
    assert demo.service.getResult(jobid) is False
    # the system runs outside any interaction: there is none to check
    assert demo.service.getError(system).startswith('NoInteraction')
