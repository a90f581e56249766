"""The page of an activation job shows the object's path (linked) and
the method."""
from activation_content import Document

from zodbtasks import activate

from .conftest import SERVICE


def test_an_activation_job_shows_its_object_and_method(manager, demo):
    site = demo.service.getSite()
    site['report'] = Document()
    jobid = activate(site['report']).setTitle('<b>x</b>')
    demo.commit()
    page = manager.get('%s/%d' % (SERVICE, jobid))
    call = page.html.find(id='zt-call')
    assert call.text.replace('\n', '') == '/demo/report.setTitle()'
    assert call.find('a')['href'].endswith('/demo/report')
    del site['report']
    demo.commit()
    call = manager.get('%s/%d' % (SERVICE, jobid)).html.find(id='zt-call')
    assert call.text.strip() == 'removed from its site.setTitle()'
