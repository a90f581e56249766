"""The Zope product's tests run in plone.testing's Zope layers, which
keep their own global component registry for a whole module: the suite's
per-test registry reset (tests/conftest.py) is replaced here."""
import pytest
import transaction

pytest.importorskip('Zope2', reason='Zope 6 is not installed (make test '
                    'installs it)')

from zodbtasks import processor  # noqa: E402


@pytest.fixture(autouse=True)
def component_registry():
    yield
    processor.stop_all()
    transaction.abort()
