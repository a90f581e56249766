"""The one place that reads the clock; everything else takes ``now``."""
import time


def now():
    """The current time in epoch seconds (UTC)."""
    return time.time()
