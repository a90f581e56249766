"""A content-like persistent class for the activation tests (importable:
its instances are pickled)."""
import persistent
from zope.location.interfaces import IContained
import zope.interface


@zope.interface.implementer(IContained)
class Document(persistent.Persistent):
    __parent__ = __name__ = None
    title = ''
    indexed = 0

    def setTitle(self, title, suffix=''):
        self.title = title + suffix
        return self.title

    def reindex(self):
        self.indexed += 1
        return self.indexed
