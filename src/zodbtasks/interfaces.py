"""The zodbtasks contract: tasks, jobs, task services and processors.

Everything a caller relies on is declared here: status constants, the
exceptions callers handle, and the interfaces with their behaviour.
Implementations say "See IX" and only add what is specific to them.
"""


class ScheduleError(ValueError):
    """A cron spec, cron string, delay or time zone is invalid.

    The message names the field and the offending value, e.g.
    ``minute: 60 is out of range 0-59``.
    """
