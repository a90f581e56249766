"""zodbtasks: a ZODB-native persistent task service.

Re-exports only; importing the package starts nothing.
"""
from zodbtasks.service import TaskService  # noqa: F401
