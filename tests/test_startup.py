import logging

import pytest
import transaction
import zope.app.appsetup.product
import zope.component
import zope.configuration.xmlconfig
import zope.event
import zope.interface
import zope.processlifetime

from ZODB.POSException import POSKeyError
from zope.component.interfaces import ISite
from zodbtasks import startup
from zodbtasks import testing
from zodbtasks.interfaces import ITaskService


def _configure(autostart):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'autostart': autostart})


def _opened(db):
    return zope.processlifetime.DatabaseOpenedWithRoot(db)


@pytest.fixture
def sites(conn, root):
    """site1 with services jobs and mail, site2 with jobs, root with
    maintenance."""
    site1 = testing.add_site(root, 'site1')
    site2 = testing.add_site(root, 'site2')
    services = {
        'site1@jobs': testing.add_service(site1, 'jobs'),
        'site1@mail': testing.add_service(site1, 'mail'),
        'site2@jobs': testing.add_service(site2, 'jobs'),
        '@maintenance': testing.add_service(root, 'maintenance'),
    }
    transaction.commit()
    return services


def _running(services):
    return sorted(key for key, svc in services.items() if svc.isProcessing())


def test_parse_autostart_ignores_white_space_and_empty_items():
    assert startup.parse_autostart(' site1 @ jobs ,, @mail , *@* ') == \
        ['site1@jobs', '@mail', '*@*']


@pytest.mark.parametrize('bad', ['jobs', 'site1@', 'a@b@c'])
def test_parse_autostart_names_bad_directive(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        startup.parse_autostart('site1@jobs, ' + bad)


def test_getAutostartServiceNames_reads_product_config():
    _configure('site1@jobs, @maintenance')
    assert startup.getAutostartServiceNames() == \
        ['site1@jobs', '@maintenance']


def test_getAutostartServiceNames_without_config_is_empty():
    assert startup.getAutostartServiceNames() == []


@pytest.mark.parametrize('directives, expected', [
    ('site1@jobs', ['site1@jobs']),
    ('@maintenance', ['@maintenance']),
    ('site1@*', ['site1@jobs', 'site1@mail']),
    ('*@jobs', ['site1@jobs', 'site2@jobs']),
    ('*@*', ['@maintenance', 'site1@jobs', 'site1@mail', 'site2@jobs']),
    ('site2@jobs, @maintenance', ['@maintenance', 'site2@jobs']),
])
def test_directives_start_the_services_they_name(db, sites, directives,
                                                 expected):
    _configure(directives)
    startup.bootStrapSubscriber(_opened(db))
    assert _running(sites) == expected


def test_start_is_logged_per_service(db, sites, caplog):
    caplog.set_level(logging.INFO, logger='zodbtasks')
    _configure('site1@jobs')
    startup.bootStrapSubscriber(_opened(db))
    assert ('zodbtasks.startup', logging.INFO,
            'service jobs on site site1 started') in caplog.record_tuples


def test_missing_site_is_an_error(db, sites, caplog):
    _configure('nosite@jobs, site1@jobs')
    startup.bootStrapSubscriber(_opened(db))
    assert any(r.levelno == logging.ERROR and "'nosite'" in r.getMessage()
               for r in caplog.records)
    assert _running(sites) == ['site1@jobs']


def test_directive_matching_nothing_is_a_warning(db, sites, caplog):
    _configure('site1@nosuch')
    startup.bootStrapSubscriber(_opened(db))
    assert any(r.levelno == logging.WARNING
               and "'site1@nosuch'" in r.getMessage()
               for r in caplog.records)


def test_bad_config_is_an_error_and_starts_nothing(db, sites, caplog):
    _configure('site1@jobs, oops')
    startup.bootStrapSubscriber(_opened(db))
    assert any(r.levelno == logging.ERROR and "'oops'" in r.getMessage()
               for r in caplog.records)
    assert _running(sites) == []


def test_deleted_service_does_not_break_start_up(db, root, sites, caplog):
    sm = root['site1'].getSiteManager()
    del sm['default']['mail']  # registration left behind
    transaction.commit()
    _configure('*@*')
    startup.bootStrapSubscriber(_opened(db))
    assert _running(sites) == ['@maintenance', 'site1@jobs', 'site2@jobs']


def test_unloadable_registration_is_skipped_with_warning(caplog):
    class Registration:
        provided = ITaskService
        name = 'gone'

        @property
        def component(self):
            raise POSKeyError(b'\0' * 8)

    class SiteManager:
        def registeredUtilities(self):
            return [Registration()]

    @zope.interface.implementer(ISite)
    class Site:
        def getSiteManager(self):
            return SiteManager()

    assert startup.find_services(Site(), '@*') == []
    assert "'gone'" in caplog.text


def test_subscriber_closes_its_connection(db, sites):
    _configure('site1@nosuch')  # starts no thread (which has a connection)
    before = len(db.pool.available)
    startup.bootStrapSubscriber(_opened(db))
    assert len(db.pool.available) == before + 1
    assert sum(1 for c in db.pool.all if c.opened) == 1  # the test's own


def test_missing_root_folder_is_an_error(tmp_path, caplog):
    (tmp_path / 'other').mkdir()
    other = testing.create_database(str(tmp_path / 'other'))
    try:
        _configure('*@*')
        startup.bootStrapSubscriber(_opened(other))
    finally:
        testing.close_database(other)
    assert any('no root folder' in r.getMessage() for r in caplog.records)


def test_zcml_subscribes_to_database_opened(db, sites):
    zope.configuration.xmlconfig.string('''
        <configure xmlns="http://namespaces.zope.org/zope">
          <include package="zope.component" file="meta.zcml" />
          <include package="zope.security" file="meta.zcml" />
          <include package="zodbtasks" />
        </configure>''')
    _configure('site1@mail')
    zope.event.notify(_opened(db))
    assert _running(sites) == ['site1@mail']


def test_registrations_are_task_services(sites, root):
    sm = root['site1'].getSiteManager()
    assert set(dict(sm.getUtilitiesFor(ITaskService))) >= {'jobs', 'mail'}


def test_processors_off_starts_nothing(db, sites, caplog):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'autostart': '*@*', 'processors': 'off'})
    caplog.set_level(logging.INFO, logger='zodbtasks')
    startup.bootStrapSubscriber(_opened(db))
    assert _running(sites) == []
    assert 'processors off' in caplog.text


def test_threads_per_service(db, sites):
    import threading
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'autostart': 'site1@jobs', 'threads': '3'})
    startup.bootStrapSubscriber(_opened(db))
    names = [t.name for t in threading.enumerate()
             if t.name.startswith('zodbtasks.site1.++etc++site.default.jobs')
             and not t.name.endswith('heartbeat')]
    assert len(names) == 3


@pytest.mark.parametrize('key, value', [('processors', 'maybe'),
                                        ('threads', '0'),
                                        ('threads', 'many')])
def test_bad_processor_settings_are_errors(db, sites, caplog, key, value):
    zope.app.appsetup.product.setProductConfiguration(
        'zodbtasks', {'autostart': '*@*', key: value})
    startup.bootStrapSubscriber(_opened(db))
    assert any(r.levelno == logging.ERROR and repr(value) in r.getMessage()
               for r in caplog.records)
    assert _running(sites) == []


@pytest.mark.parametrize('directive, expected', [
    ('site1@jobs', [('site1', 'jobs')]),
    ('@*', [('', 'maintenance')]),
    ('site1@*', [('site1', 'jobs'), ('site1', 'mail')]),
    ('*@jobs', [('site1', 'jobs'), ('site2', 'jobs')]),
    ('*@*', [('', 'maintenance'), ('site1', 'jobs'), ('site1', 'mail'),
             ('site2', 'jobs')]),
    ('site2@nosuch', []),
])
def test_find_services_names_the_site_and_service(root, sites, directive,
                                                  expected):
    found = startup.find_services(root, directive)
    assert sorted((site, name) for site, name, _ in found) == expected
    for site, name, service in found:
        assert service is sites['%s@%s' % (site, name)]


@pytest.mark.parametrize('site', ['nosite', 'site1x'])
def test_find_services_refuses_a_missing_site(root, sites, site):
    root['site1x'] = testing.Folder()  # a folder that is not a site
    with pytest.raises(LookupError, match="no site %r below the root" % site):
        startup.find_services(root, '%s@*' % site)


def test_a_root_that_is_not_a_site_is_skipped_by_stars_and_named(caplog):
    # A Zope application root is not a site unless made one.
    class Root(dict):
        pass
    assert startup.find_services(Root(), '*@*') == []
    with pytest.raises(LookupError, match='the root folder is not a site'):
        startup.find_services(Root(), '@jobs')
