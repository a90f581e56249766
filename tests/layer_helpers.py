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
def layer_set_up(layer):
    """Set up the layer and its bases; tear down those set up, in reverse,
    when the block ends (also when one setUp failed)."""
    done = []
    try:
        for each in resolution_order(layer):
            each.setUp()
            done.append(each)
        yield layer
    finally:
        for each in reversed(done):
            each.tearDown()


@contextlib.contextmanager
def layer_test(layer):
    """One test of a layer that layer_set_up set up: testSetUp of every
    layer in resolution order, testTearDown in reverse."""
    done = []
    try:
        for each in resolution_order(layer):
            each.testSetUp()
            done.append(each)
        yield layer
    finally:
        for each in reversed(done):
            each.testTearDown()
