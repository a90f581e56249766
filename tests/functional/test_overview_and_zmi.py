"""The Overview tab, and adding and registering a service in the ZMI."""
from .conftest import SERVICE


def test_overview_counts_per_status(manager, demo):
    demo.service.add('echo')
    demo.service.add('fail')
    demo.service.add('echo', startLater=True)
    demo.commit()
    demo.service.process()
    page = manager.get(SERVICE + '/@@overview.html')
    count = {row['id'][len('zt-count-'):]: row.find_all('td')[1].text
             for row in page.html.find(id='zt-counts').find_all('tr')
             if row.get('id')}
    assert (count['completed'], count['error'], count['startlater']) == \
        ('1', '1', '1')
    assert page.html.find(id='zt-count-all').text == '3'


def test_overview_chart_of_the_last_hour(manager, demo):
    demo.service.add('echo')
    demo.commit()
    demo.service.process()
    page = manager.get(SERVICE + '/@@overview.html')
    assert page.html.find(id='zt-finished-hour').text == '1'
    figures = page.html.find(id='zt-charts').find_all('figure')
    assert [f.figcaption.text for f in figures] == [
        'Jobs finished and failed per minute',
        'Queue depth (waiting jobs seen by the workers)',
        'Enqueue-to-start latency']
    finished = figures[0].find('g', attrs={'data-series': 'finished'})
    bars = finished.find_all('rect')
    assert len(bars) == 1 and ': finished ' in bars[0].title.text
    legend = [t.text for t in figures[0].find(class_='zt-legend')
              .find_all('text')]
    assert legend == ['finished', 'failed']
    x_labels = [t.text for t in figures[0].find(class_='zt-x-axis')
                .find_all('text')]
    assert len(x_labels) >= 6 and x_labels[-1].startswith('time (')
    y_labels = [t.text for t in figures[0].find(class_='zt-y-axis')
                .find_all('text')]
    assert y_labels[0] == '0' and len(y_labels) >= 2
    latency = figures[2].find('g', attrs={'data-series': 'p95'})
    assert latency.find('polyline') is not None


def test_overview_charts_of_the_last_day(manager, demo):
    page = manager.get(SERVICE + '/@@overview.html?range=day')
    figures = page.html.find(id='zt-charts').find_all('figure')
    assert figures[0].figcaption.text == \
        'Jobs finished and failed per 10 minutes'
    assert page.html.find(id='zt-range-hour')['href'].endswith('range=hour')
    page = manager.get(SERVICE + '/@@overview.html?range=<script>')
    assert 'per minute' in page.html.find('figcaption').text  # the default


def test_overview_oldest_waiting(manager, demo):
    page = manager.get(SERVICE + '/@@overview.html')
    assert 'No job is waiting.' in page.text
    demo.service.add('echo')
    demo.commit()
    page = manager.get(SERVICE + '/@@overview.html')
    assert 'The oldest waiting job has waited' in page.text


def test_overview_needs_login(anonymous, demo):
    anonymous.get(SERVICE + '/@@overview.html', status=401)


def test_task_service_is_in_the_add_menu(manager, demo):
    page = manager.get('/demo/++etc++site/default/@@+/index.html')
    assert 'Task Service' in page.text


def test_add_and_register_a_service_through_the_zmi(manager, demo):
    form = manager.get('/demo/++etc++site/default/@@+/index.html').forms[0]
    form['type_name'] = 'BrowserAdd__zodbtasks.service.TaskService'
    form['id'] = 'mail'
    form.submit()
    demo.sync()
    sm = demo.service.__parent__.__parent__
    assert sm['default']['mail'].__class__.__name__ == 'TaskService'
    page = manager.get('/demo/++etc++site/default/mail/@@registration.html')
    assert 'not registered' in page.text.lower() or 'register' in page.text
    register = manager.get(
        '/demo/++etc++site/default/mail/@@addRegistration.html').forms[0]
    register['field.name'] = 'mail'
    register['field.provided'] = [
        value for value, _, _ in register['field.provided'].options
        if 'ITaskService' in value][0]
    register.submit('field.actions.register')
    demo.sync()
    from zodbtasks.interfaces import ITaskService
    assert sm.queryUtility(ITaskService, 'mail') is sm['default']['mail']
