"""HTTP (non-browser) views of the application server.

- ``Unauthorized``: the answer to an anonymous PUT, DELETE... that needs a
  login.  zope.app.http's own view returns a text result without a
  content type, which zope.publisher refuses, so every such request
  logged two ERRORs with tracebacks around its 401.
- ``MethodNotAllowed``: zope.app.http's 405 view, with a content type.
- ``NotAllowed``: the ``DELETE`` (and ``PUT``) view of task services and
  jobs.  It has no method of that name, so the publication answers 405
  Method Not Allowed with an ``Allow`` header; without it zope.app.http's
  generic DELETE would remove the service from its site manager.
"""
from zope.app.http.exception.methodnotallowed import MethodNotAllowedView
from zope.interface import implementer
from zope.publisher.interfaces.http import IHTTPException

TEXT = 'text/plain; charset=utf-8'


@implementer(IHTTPException)
class Unauthorized:
    """The view of an Unauthorized error on a plain HTTP request."""

    def __init__(self, context, request):
        self.context = context
        self.request = request

    def __call__(self):
        self.request.unauthorized('basic realm="Zope"')
        self.request.response.setHeader('Content-Type', TEXT)
        return 'Unauthorized: this needs a login with the permission.\n'

    __str__ = __call__


class MethodNotAllowed(MethodNotAllowedView):
    """The 405 answer, saying which methods are allowed."""

    def __call__(self):
        super().__call__()
        self.request.response.setHeader('Content-Type', TEXT)
        return 'Method Not Allowed: %s of this object is not possible.\n' % (
            self.request.method)


class NotAllowed:
    """A view whose lack of a ``DELETE``/``PUT`` method makes the
    publication answer 405."""

    def __init__(self, context, request):
        self.context = context
        self.request = request
