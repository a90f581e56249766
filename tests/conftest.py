"""Shared fixtures: a real FileStorage database with a root folder, a site
and a task service; a clean global component registry per test."""
import logging

import pytest
import transaction
import zope.app.appsetup.product
import zope.component.testing

from zodbtasks import processor
from zodbtasks import testing
from zodbtasks.task import TaskError


@pytest.fixture(autouse=True)
def component_registry():
    zope.component.testing.setUp()
    state = zope.app.appsetup.product.saveConfiguration()
    yield
    processor.stop_all()
    transaction.abort()
    zope.app.appsetup.product.restoreConfiguration(state)
    zope.component.testing.tearDown()


@pytest.fixture
def db(tmp_path):
    database = testing.create_database(str(tmp_path))
    yield database
    testing.close_database(database)


@pytest.fixture
def conn(db):
    connection = db.open()
    yield connection
    transaction.abort()
    connection.close()


@pytest.fixture
def root(conn):
    folder = testing.setup_root(conn)
    transaction.commit()
    return folder


@pytest.fixture
def site(root):
    folder = testing.add_site(root, 'site1')
    transaction.commit()
    return folder


@pytest.fixture
def service(site):
    svc = testing.add_service(site, 'jobs')
    transaction.commit()
    return svc


def fail(input):
    raise TaskError('failed with %s' % (input,))


def crash(input):
    raise ValueError('bad input %r' % (input,))


@pytest.fixture
def tasks():
    """Global tasks: echo, fail (TaskError), crash (ValueError), counter."""
    calls = []

    def counter(input):
        calls.append(input)
        return len(calls)

    testing.register_task('echo', lambda input: input)
    testing.register_task('fail', fail)
    testing.register_task('crash', crash)
    testing.register_task('counter', counter)
    return calls


@pytest.fixture
def quiet(caplog):
    caplog.set_level(logging.CRITICAL, logger='zodbtasks')
    return caplog
