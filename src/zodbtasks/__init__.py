"""zodbtasks: a ZODB-native persistent task service.

Re-exports only; importing the package starts nothing.
"""
from zodbtasks.activation import activate  # noqa: F401
from zodbtasks.service import TaskService  # noqa: F401
