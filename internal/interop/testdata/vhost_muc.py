"""Group chat on a virtual host's own conference service with slixmpp's
xep_0045 plugin.

alice (an account of the vhost) finds the vhost's conference service in
disco#items of her domain, creates a room there (status 201) and accepts
the instant configuration; bob (an account of the primary domain) joins
the same room; alice's message reaches bob from the room.

Prints "items" (the JIDs disco#items of alice's domain lists), "joined"
(who, codes), "message" (who, from, body), and "mismatch" for anything
unexpected.
"""

from slixhelper import Checks, emit, logout, main, new_client, parser
from im_common import WAIT, Client, join_room

PLUGINS = ['xep_0199', 'xep_0045', 'xep_0004', 'xep_0030']


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    room = args.room
    service = room.split('@', 1)[1]
    check = Checks()

    try:
        for c in (alice, bob):
            if not await c.online(args):
                return False
        domain = alice.xmpp.boundjid.domain
        iq = await alice.xmpp['xep_0030'].get_items(jid=domain, timeout=WAIT)
        items = sorted(str(i[0]) for i in iq['disco_items']['items'])
        emit('items', who='alice', body=' '.join(items))
        check('the domain lists its conference service', service in items, True)

        own = await join_room(alice, room, 'Alice')
        check('creator status codes', 201 in own and 110 in own, True)
        submit = alice.xmpp['xep_0004'].make_form(ftype='submit')
        await alice.xmpp['xep_0045'].set_room_config(room, submit, timeout=WAIT)

        own = await join_room(bob, room, 'Bob')
        check('joiner status codes', 201 in own, False)
        alice.xmpp.send_message(mto=room, mbody=args.body, mtype='groupchat')
        await bob.messages.wait(lambda f: f['body'] == args.body and f['type'] == 'groupchat'
                                and f['from'] == room + '/Alice', args.body)
        return check.ok
    finally:
        await logout(bob.xmpp)
        await logout(alice.xmpp)


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--room', required=True)
    p.add_argument('--body', required=True)
    main(run, p.parse_args())
