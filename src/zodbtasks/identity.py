"""Who a job runs as: the principal of the interaction that added it
(``add``'s ``runAs``), and the interaction a worker opens for it.

A job stores only the principal's id (``job.runAs``; None: the system,
no interaction, as in 0.1).  When it runs, ``running_as`` looks the
principal up through the ``IAuthentication`` utility seen from the
service's site and opens an interaction for it, so that
``checkPermission`` and security-proxied code behave as they did for the
user.  A principal that no longer exists ends the job in error: it never
runs as somebody else.  The Zope 2 / Plone variant (a security manager
and a rebuilt request, ``zodbtasks.zope.environment``) replaces both
halves through IJobEnvironment: a service's ``captureIdentity`` when a
job is added, its ``jobEnvironment`` when the job runs (``environment``
below for the Zope Toolkit).
"""
import collections
import contextlib

import zope.component
import zope.component.hooks
from zope.authentication.interfaces import IAuthentication
from zope.authentication.interfaces import PrincipalLookupError
from zope.security import management
from zope.security.management import endInteraction
from zope.security.management import newInteraction
from zope.security.management import queryInteraction
from zope.security.management import restoreInteraction

from zodbtasks.interfaces import CURRENT_PRINCIPAL
from zodbtasks.interfaces import TaskError


class PrincipalGone(TaskError):
    """The principal a job runs as no longer exists."""


class Identity(collections.namedtuple('Identity', 'principal context')):
    """A job's identity as ``add`` takes it for ``runAs``: the principal
    id (or None) and the run context (see IJobEnvironment) of another
    job, e.g. the step of a chain runs as the job before it did."""


class Participation:
    """A participation of ``principal`` in the interaction of a job."""

    interaction = None

    def __init__(self, principal):
        self.principal = principal


def current_principal_id():
    """The id of the principal of the current interaction (the first
    participation's), or None."""
    interaction = queryInteraction()
    for participation in getattr(interaction, 'participations', ()) or ():
        principal = getattr(participation, 'principal', None)
        if principal is not None:
            return principal.id
    return None


def run_as(value):
    """What a new job stores in ``runAs``: the current principal's id for
    the default, None for the system, else the id given (a string)."""
    if value is CURRENT_PRINCIPAL:
        return current_principal_id()
    if value is None:
        return None
    if isinstance(value, Identity):
        return value.principal
    if not isinstance(value, str) or not value:
        raise ValueError('runAs: expected a principal id or None (the '
                         'system), not %.80r' % (value,))
    return value


def find_principal(principal_id):
    """The principal ``principal_id`` as the current site sees it, or
    raise PrincipalGone."""
    auth = zope.component.queryUtility(IAuthentication)
    if auth is None:
        raise PrincipalGone('principal %r no longer exists (no '
                            'authentication utility)' % principal_id)
    try:
        return auth.getPrincipal(principal_id)
    except PrincipalLookupError:
        raise PrincipalGone('principal %r no longer exists'
                            % principal_id) from None


@contextlib.contextmanager
def environment(service, job):
    """The Zope Toolkit's IJobEnvironment.jobEnvironment: the service's
    site and an interaction of the job's principal; yields ``service``."""
    with zope.component.hooks.site(service.getSite()), \
            running_as(job.runAs):
        yield service


@contextlib.contextmanager
def running_as(principal_id):
    """Run the body in an interaction of ``principal_id`` (None: as the
    caller is, without opening one), looked up in the current site (the
    job's); the caller's interaction, if any, comes back afterwards."""
    if principal_id is None:
        yield
        return
    principal = find_principal(principal_id)
    previous = queryInteraction()
    if previous is not None:
        endInteraction()
    newInteraction(Participation(principal))
    try:
        yield
    finally:
        endInteraction()
        if previous is not None:
            # restoreInteraction() brings back what the last
            # endInteraction() ended: the job's; say which one it is.
            management.thread_local.previous_interaction = previous
            restoreInteraction()
