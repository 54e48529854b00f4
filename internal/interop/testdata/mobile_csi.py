"""XEP-0352 client state indication with slixmpp's xep_0352.

alice says she is inactive; bob sends her three directed presences with
different statuses. The script prints "waiting" and reads a line: the Go
test sends it once the server counts the three as held. alice must have
received none of them by then; she says she is active and must receive the
newest only.

Prints "csi" (alice's state changes), "status" lines (every presence alice
gets from bob, with its status), "sent" (bob's statuses, in order) and
"before_active" (how many of bob's presences alice had when she was told to
go on, in "got").
"""

import asyncio

from slixhelper import emit, logout, main, new_client, parser
from im_common import Client, Inbox
from mobile_common import GoAhead, once, within

PLUGINS = ['xep_0199', 'xep_0352']


async def run(args):
    go = GoAhead()
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    ax = alice.xmpp
    bob_bare = args.bob.split('/')[0]
    from_bob = Inbox('alice', "bob's presence")

    def on_presence(pres):
        if pres['from'].bare != bob_bare:
            return
        fields = {'from': str(pres['from']), 'type': pres['type'],
                  'status': pres['status']}
        emit('status', who='alice', **fields)
        from_bob.put(fields)

    ax.add_event_handler('presence', on_presence)
    csi = once(ax, 'csi_enabled')
    try:
        if not await alice.online(args):
            return False
        await within(csi, 'urn:xmpp:csi:0 stream feature')
        if not await bob.online(args):
            return False

        ax['xep_0352'].send_inactive()
        await alice.barrier()  # the server has handled <inactive/>
        emit('csi', who='alice', type='inactive')

        for status in args.statuses:
            bob.xmpp.send_presence(pto=ax.boundjid, pstatus=status)
            emit('sent', who='bob', status=status)
        await bob.barrier()

        await go.wait('the server to hold the presences')
        emit('before_active', who='alice', got=str(len(from_bob.items)))

        ax['xep_0352'].send_active()
        emit('csi', who='alice', type='active')
        newest = args.statuses[-1]
        await from_bob.wait(lambda f: f['status'] == newest, 'the newest status')
        await alice.barrier()  # anything else held came with it
        return True
    finally:
        await asyncio.gather(logout(bob.xmpp), logout(ax))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--statuses', nargs='+', required=True)
    main(run, p.parse_args())
