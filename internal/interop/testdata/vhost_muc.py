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

from slixhelper import emit, logout, main, new_client, parser
from im_common import WAIT, Client

PLUGINS = ['xep_0199', 'xep_0045', 'xep_0004', 'xep_0030']


def codes(pres):
    return sorted(int(s.get('code')) for s in
                  pres.xml.findall('{http://jabber.org/protocol/muc#user}x/'
                                   '{http://jabber.org/protocol/muc#user}status'))


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    room = args.room
    service = room.split('@', 1)[1]
    ok = True

    def check(what, got, want):
        nonlocal ok
        if got != want:
            ok = False
            emit('mismatch', what=what, got=str(got), want=str(want))

    try:
        for c in (alice, bob):
            if not await c.online(args):
                return False
        domain = alice.xmpp.boundjid.domain
        iq = await alice.xmpp['xep_0030'].get_items(jid=domain, timeout=WAIT)
        items = sorted(str(i[0]) for i in iq['disco_items']['items'])
        emit('items', who='alice', body=' '.join(items))
        check('the domain lists its conference service', service in items, True)

        muc_a, muc_b = alice.xmpp['xep_0045'], bob.xmpp['xep_0045']
        own, _, _, _ = await muc_a.join_muc_wait(room, 'Alice', maxstanzas=0, timeout=WAIT)
        emit('joined', who='alice', body=' '.join(map(str, codes(own))))
        check('creator status codes', 201 in codes(own) and 110 in codes(own), True)
        submit = alice.xmpp['xep_0004'].make_form(ftype='submit')
        await muc_a.set_room_config(room, submit, timeout=WAIT)

        own, _, _, _ = await muc_b.join_muc_wait(room, 'Bob', maxstanzas=0, timeout=WAIT)
        emit('joined', who='bob', body=' '.join(map(str, codes(own))))
        check('joiner status codes', 201 in codes(own), False)
        alice.xmpp.send_message(mto=room, mbody=args.body, mtype='groupchat')
        await bob.messages.wait(lambda f: f['body'] == args.body and f['type'] == 'groupchat'
                                and f['from'] == room + '/Alice', args.body)
        return ok
    finally:
        await logout(bob.xmpp)
        await logout(alice.xmpp)


if __name__ == '__main__':
    p = parser(__doc__)
    p.add_argument('--alice', required=True)
    p.add_argument('--alice-password', required=True)
    p.add_argument('--bob', required=True)
    p.add_argument('--bob-password', required=True)
    p.add_argument('--room', required=True)
    p.add_argument('--body', required=True)
    main(run, p.parse_args())
