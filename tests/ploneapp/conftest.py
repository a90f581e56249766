"""The Plone add-on's tests run in plone.app.testing's layers, which keep
their own global component registry for a whole module: the suite's
per-test registry reset (tests/conftest.py) is replaced here."""
import pytest
import transaction

pytest.importorskip('Products.CMFPlone', reason='Plone 6 is not installed '
                    '(make test installs it)')

from zodbtasks import processor  # noqa: E402


@pytest.fixture(autouse=True)
def component_registry():
    yield
    processor.stop_all()
    transaction.abort()
