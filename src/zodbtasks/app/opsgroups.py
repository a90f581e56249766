"""The sub-commands of ``zodbtasks`` about groups (registered in
``zodbtasks.app.ops``):

``groups [--limit 20]``
    the groups of the services, newest first: status, finished members of
    all, failed ones, the callback and its status;
``clean-group GID``
    remove a finished group's members and callback (in transactions of
    1,000 jobs), then the group (``service.cleanGroup``).
"""
from zodbtasks import clock
from zodbtasks.app.output import print_table
from zodbtasks.app.session import OpsError

GROUP_HEADERS = ['SERVICE', 'GROUP', 'CREATED (UTC)', 'STATUS', 'DONE',
                 'FAILED', 'CALLBACK']


def show_groups(session, args, out):
    """Print the newest ``--limit`` groups of the services."""
    if args.limit < 0:
        raise OpsError('--limit: expected a whole number >= 0, not %d'
                       % args.limit)
    found = []
    for label, service in session.services():
        _, page = service.queryGroups(size=args.limit)
        found.extend((label, service, group) for group in page)
    found.sort(key=lambda item: (item[2].created or 0, item[2].id),
               reverse=True)
    rows = [[label, group.id, clock.format_utc(group.created, missing='-'),
             group.status, '%d/%d' % (group.done, group.total), group.failed,
             _callback(service, group)]
            for label, service, group in found[:args.limit]]
    print_table(out, GROUP_HEADERS, rows, 'No group in %s.'
                % session.directive, left=('DONE', 'CALLBACK'))
    return 0


def _callback(service, group):
    """``ID (status)`` of the group's callback, '-' for none."""
    if group.callbackId is None:
        return '-'
    job = service.jobs.get(group.callbackId)
    return '%d (%s)' % (group.callbackId,
                        job.status if job is not None else 'removed')


def groups_arguments(parser):
    parser.add_argument('--limit', type=int, default=20, metavar='N',
                        help='at most N groups (default: %(default)s)')


def clean_group(session, args, out):
    """Clean group ``args.groupid``: 0 when cleaned, 1 when refused."""
    holders = [(label, service) for label, service in session.services()
               if _holds(service, args.groupid)]
    if not holders:
        raise OpsError('no group %d in %s' % (args.groupid,
                                               session.directive))
    if len(holders) > 1:
        raise OpsError('group %d is in %d services (%s): say which with '
                       '--service' % (args.groupid, len(holders), ', '.join(
                           label for label, _ in holders)))
    [(label, service)] = holders
    try:
        removed = service.cleanGroup(args.groupid)
    except ValueError as exc:
        print('not cleaned (%s): %s' % (label, exc), file=out)
        return 1
    print('cleaned group %d (%s): %d jobs removed'
          % (args.groupid, label, removed), file=out)
    return 0


def _holds(service, gid):
    try:
        service.getGroup(gid)
    except KeyError:
        return False
    return True


def clean_group_arguments(parser):
    parser.add_argument('groupid', type=int, metavar='GID')
