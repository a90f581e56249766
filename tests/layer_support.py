"""Setting plone.testing layers up from pytest fixtures: a layer with its
bases for a module (``layers_set_up``), its per-test set-up for a test
(``test_set_up``); bases first, torn down in reverse."""
import contextlib

import transaction


def _setup_order(layer, seen):
    for base in layer.__bases__:
        _setup_order(base, seen)
    if layer not in seen:
        seen.append(layer)
    return seen


@contextlib.contextmanager
def layers_set_up(layer):
    """Set ``layer`` and its bases up (bases first); yield; tear down."""
    done = []
    try:
        for each in _setup_order(layer, []):
            each.setUp()
            done.append(each)
        yield layer
    finally:
        for each in reversed(done):
            each.tearDown()


@contextlib.contextmanager
def test_set_up(layer):
    """Run the per-test set-up of ``layer`` and its bases."""
    order = _setup_order(layer, [])
    for each in order:
        each.testSetUp()
    try:
        yield layer
    finally:
        transaction.abort()
        for each in reversed(order):
            each.testTearDown()
