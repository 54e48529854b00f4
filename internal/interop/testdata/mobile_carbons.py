"""XEP-0280 carbons with slixmpp's xep_0280.

alice has two sessions, r1 and r2, both available and both with carbons
enabled. bob sends alice/r1 a chat message: r2 must get a <received/>
carbon of it. alice/r1 answers bob: r2 must get a <sent/> carbon.

Prints "carbons_enabled", "message" lines (outer stanzas, so a carbon
shows as a message without a body) and "carbon" lines: the forwarded
message's from/to/type/body, carbon "received" or "sent", and "outer",
the wrapper's from.
"""

import asyncio

from slixhelper import emit, logout, main, new_client, parser
from im_common import WAIT, Client, Inbox

PLUGINS = ['xep_0199', 'xep_0280']


def watch_carbons(client):
    inbox = Inbox(client.who, 'carbon')

    def handler(kind):
        def record(msg):
            inner = msg['carbon_%s' % kind]  # the forwarded message
            fields = {'carbon': kind, 'outer': str(msg['from']),
                      'from': str(inner['from']), 'to': str(inner['to']),
                      'type': inner['type'], 'body': inner['body']}
            emit('carbon', who=client.who, **fields)
            inbox.put(fields)
        return record

    client.xmpp.add_event_handler('carbon_received', handler('received'))
    client.xmpp.add_event_handler('carbon_sent', handler('sent'))
    return inbox


async def run(args):
    r1 = Client(new_client(args, args.alice + '/r1', args.alice_password, plugins=PLUGINS), 'r1')
    r2 = Client(new_client(args, args.alice + '/r2', args.alice_password, plugins=PLUGINS), 'r2')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    carbons = {c.who: watch_carbons(c) for c in (r1, r2)}
    clients = (r1, r2, bob)
    try:
        for c in clients:
            if not await c.online(args):
                return False
        for c in (r1, r2):
            await c.xmpp['xep_0280'].enable(timeout=WAIT)
            emit('carbons_enabled', who=c.who)

        def body_is(body):
            return lambda f: f['body'] == body

        bob.xmpp.make_message(mto=r1.xmpp.boundjid, mbody=args.to_alice, mtype='chat').send()
        await r1.messages.wait(body_is(args.to_alice), "bob's message")
        await carbons['r2'].wait(lambda f: f['carbon'] == 'received', "the received carbon")

        r1.xmpp.make_message(mto=bob.xmpp.boundjid, mbody=args.to_bob, mtype='chat').send()
        await bob.messages.wait(body_is(args.to_bob), "alice's answer")
        await carbons['r2'].wait(lambda f: f['carbon'] == 'sent', "the sent carbon")

        # Anything else (a second copy, a carbon to r1) would come before
        # these answers.
        for c in clients:
            await c.barrier()
        return True
    finally:
        await asyncio.gather(*(logout(c.xmpp) for c in clients))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))  # alice: a bare JID
    p.add_argument('--to-alice', required=True)
    p.add_argument('--to-bob', required=True)
    main(run, p.parse_args())
