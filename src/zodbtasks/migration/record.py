"""The record of one service's migration: how far it got (so that an
interrupted run goes on where it stopped), and afterwards the old
service itself, kept until the operator removes it.

Records live in the main database's root, ``root['zodbtasks.migrations']``
(an OOBTree ``'SITE@NAME'`` -> Migration), not in the site: a broken
object stored in a folder would be wrapped in a ContainedProxy and show
in its listing.
"""
import persistent
from BTrees.OOBTree import OOBTree

#: The key of the records in the root of the main database.
ROOT_KEY = 'zodbtasks.migrations'
#: The steps in their order: the legacy queue, the jobs waiting to be
#: scheduled, the scheduled jobs, every other job, the swap of the
#: registrations; then the migration is done.
PHASES = ('queue', 'scheduled queue', 'schedule', 'jobs', 'swap', 'done')


class Migration(persistent.Persistent):
    """One legacy service's migration.

    ``label`` ('SITE@NAME'), ``site`` (the site's name, '' for the root
    folder), ``name`` (the utility name), ``kind`` ('lovely.remotetask'
    or 'z3c.taskqueue'), ``provided`` (the dotted name of the interface
    it was registered for); ``legacy`` (the old service: the backup),
    ``service`` (the new TaskService); ``phase`` (one of PHASES) and
    ``cursor`` (where in it the next batch starts: a position, a
    (second, index) pair or a job id; None at its start); ``ready`` (the
    ready time given to the last queued job, so that the next ones keep
    the order); ``copied`` (jobs stored so far), ``notes`` (note -> how
    many jobs), ``left_out`` (ids of legacy entries not copied, with why);
    ``started``, ``finished`` (epoch seconds); after the swap
    ``container`` and ``key``, where the old service was stored.
    """

    cursor = None
    ready = None
    finished = None
    container = None
    key = None

    def __init__(self, label, site, name, kind, provided, legacy, service,
                 now):
        self.label, self.site, self.name = label, site, name
        self.kind, self.provided = kind, provided
        self.legacy, self.service = legacy, service
        self.phase = PHASES[0]
        self.copied = 0
        self.notes = {}
        self.left_out = ()
        self.started = now

    def __repr__(self):
        return '<Migration %s %s>' % (self.label, self.phase)

    @property
    def done(self):
        return self.phase == PHASES[-1]

    def next_phase(self):
        self.phase = PHASES[PHASES.index(self.phase) + 1]
        self.cursor = None

    def note(self, text):
        notes = dict(self.notes)
        notes[text] = notes.get(text, 0) + 1
        self.notes = notes

    def leave_out(self, jobid, why):
        self.left_out = self.left_out + ((jobid, why),)


def records(connection, create=False):
    """The migration records of the main database of ``connection``
    (None when there are none and ``create`` is false)."""
    root = connection.root()
    if ROOT_KEY not in root and create:
        root[ROOT_KEY] = OOBTree()
    return root.get(ROOT_KEY)
