"""A content-like persistent object for the demo and the documentation:
a located document with a title and a counter of reindexings."""
import persistent
import zope.interface
from zope.location.interfaces import IContained


@zope.interface.implementer(IContained)
class Document(persistent.Persistent):
    """A document in a folder (``__parent__`` and ``__name__`` are set by
    the folder)."""

    __parent__ = __name__ = None
    title = ''
    indexed = 0

    def setTitle(self, title):
        self.title = title
        return title

    def reindex(self):
        self.indexed += 1
        return self.indexed
