"""plone.testing layers (Zope, Plone) as pytest fixtures.

A layer is set up once with its bases, the bases first, as zope.testrunner
would, and torn down in the reverse order; each test runs between the
testSetUp and testTearDown of every layer of that resolution order.

Design note: zope.pytestlayer (the successor of gocept.pytestlayer) and
pytest-plone (fixtures on top of it) were tried and not taken.
pytest-plone's plugin, loaded by pytest in every process of the venv,
imports Products.CMFPlone, whose import patches zope.traversing (an empty
``@@`` name is refused): the Zope Toolkit server's ``/@@/zope3.js`` then
gives 404 and tests/functional/test_security.py fails.  It also brings in
Robot Framework and twenty-odd more packages.  zope.pytestlayer alone works,
but names its fixtures after the layer's module, which for a layer made in
a conftest.py is the ambiguous ``conftest``; the two context managers below
are all the tests need.
"""
import contextlib
import importlib.util

import pytest
import transaction


def resolution_order(layer):
    """The layer and its bases, each once, every base before its layer."""
    order = []

    def visit(each):
        for base in each.__bases__:
            if base is not object:
                visit(base)
        if each not in order:
            order.append(each)

    visit(layer)
    return order


@contextlib.contextmanager
def _in_order(layer, up, down):
    """Call ``up`` of the layer and its bases in resolution order; when the
    block ends (also when one failed), ``down`` of those done, in reverse."""
    done = []
    try:
        for each in resolution_order(layer):
            getattr(each, up)()
            done.append(each)
        yield layer
    finally:
        for each in reversed(done):
            getattr(each, down)()


def layer_set_up(layer):
    """Set up the layer and its bases; tear down those set up, in reverse,
    when the block ends (also when one setUp failed)."""
    return _in_order(layer, 'setUp', 'tearDown')


def layer_test(layer):
    """One test of a layer that layer_set_up set up: testSetUp of every
    layer in resolution order, testTearDown in reverse."""
    return _in_order(layer, 'testSetUp', 'testTearDown')


def stop_processors():
    """Stop the processor threads a test started and abort its
    transaction: before its layer closes the test's database (a thread
    has a connection to it)."""
    from zodbtasks import processor
    processor.stop_all()
    transaction.abort()


@contextlib.contextmanager
def zodbtasks_product_config(**keys):
    """Zope's ``<product-config zodbtasks>`` holds ``keys`` (e.g.
    ``**{'metrics-token': TOKEN}``) inside the block, as it was after."""
    from App.config import getConfiguration
    config = getConfiguration()
    saved = getattr(config, 'product_config', None)
    config.product_config = dict(saved or {}, zodbtasks=keys)
    try:
        yield
    finally:
        config.product_config = saved


# -- a directory whose packages are not installed ----------------------------

def missing(names, what):
    """Why the tests of a directory cannot run: the first of the modules
    ``names`` that is not installed (``what``: what installs it), or
    None."""
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            return '%s is not installed: %s' % (name, what)
    return None


def skipping_collector(reason):
    """A ``pytest_pycollect_makemodule`` hook for a conftest: each test
    module is reported as skipped, with ``reason``, instead of failing to
    import (a plain import-skip in a conftest crashes pytest when the
    directory is named on the command line)."""
    class Skipped(pytest.Module):
        def collect(self):
            pytest.skip(reason)

    def pytest_pycollect_makemodule(module_path, parent):
        return Skipped.from_parent(parent, path=module_path)
    return pytest_pycollect_makemodule
