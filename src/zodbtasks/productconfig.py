"""The ``<product-config zodbtasks>`` section of zope.conf, wherever the
server keeps it: the Zope Toolkit's ``zope.app.appsetup.product`` (our
server and worker set it), or Zope 6's ``App.config`` (a Zope instance's
zope.conf, read by Zope at startup)."""
import zope.app.appsetup.product

try:
    from App.config import getConfiguration as zope_configuration
except ImportError:  # not in Zope
    zope_configuration = None

#: The name of the section.
PRODUCT = 'zodbtasks'


def product_config(name=PRODUCT):
    """The keys and values of the section ``name`` (a dict; empty when
    there is none)."""
    config = zope.app.appsetup.product.getProductConfiguration(name)
    if config is None and zope_configuration is not None:
        sections = getattr(zope_configuration(), 'product_config', None)
        config = (sections or {}).get(name)
    return config or {}
