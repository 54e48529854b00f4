"""A roster change made by one resource is pushed to another.

alice logs in twice ("r1" and "r2"); both get the roster, which makes them
interested resources (RFC 6121 section 2.1.6). r1 adds carol with a name and
a group; both resources must receive the push (section 2.1.6: all interested
resources, the one that made the change included). Then r1 removes carol and
both must receive a push with subscription "remove" (section 2.5.2).

Prints "roster_push" lines as they arrive, and r2's "roster" once carol
was added.
"""

import asyncio

from slixhelper import logout, main, new_client, parser
from im_common import Client

PLUGINS = ['xep_0199']


async def run(args):
    r1 = Client(new_client(args, args.jid + '/r1', args.password, plugins=PLUGINS), 'r1')
    r2 = Client(new_client(args, args.jid + '/r2', args.password, plugins=PLUGINS), 'r2')
    try:
        if await asyncio.gather(r1.online(args), r2.online(args)) != [True, True]:
            return False

        await r1.xmpp.update_roster(args.contact, name=args.name, groups=[args.group])

        def item(sub):
            return lambda i: i['jid'] == args.contact and i['subscription'] == sub
        await asyncio.gather(
            r1.pushes.wait(item('none'), 'the push adding ' + args.contact),
            r2.pushes.wait(item('none'), 'the push adding ' + args.contact))
        r2.report_roster()

        seen = [len(r1.pushes.items), len(r2.pushes.items)]
        await r1.xmpp.update_roster(args.contact, subscription='remove')
        await asyncio.gather(
            r1.pushes.wait(item('remove'), 'the push removing ' + args.contact, start=seen[0]),
            r2.pushes.wait(item('remove'), 'the push removing ' + args.contact, start=seen[1]))
        # Any further push would come before these answers.
        await asyncio.gather(r1.barrier(), r2.barrier())
        return True
    finally:
        await asyncio.gather(logout(r1.xmpp), logout(r2.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    p.add_argument('--contact', required=True, help='bare JID to add')
    p.add_argument('--name', required=True, help="the contact's roster name")
    p.add_argument('--group', required=True, help="the contact's roster group")
    main(run, p.parse_args())
