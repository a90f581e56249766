"""The zodbtasks application server: a Zope Toolkit application
(zope.app.wsgi, the Rotterdam ZMI) served by waitress.

``server`` is the ``zodbtasks-server`` command, ``instance`` makes the
instance folder it runs in, ``site.zcml`` is the application's
configuration.  Importing this package starts nothing.
"""
