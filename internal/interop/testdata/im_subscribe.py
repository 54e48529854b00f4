"""Two users subscribe to each other and see each other come and go.

alice and bob log in (roster, initial presence). alice asks for a
subscription to bob; bob's client approves it and asks back (slixmpp's
auto_authorize and auto_subscribe), alice's client approves that (it does not
ask again: auto_subscribe off). Both wait for the roster pushes that make the
subscription "both" and for the other's available presence. bob logs out:
alice sees him unavailable. bob logs in again ("bob2"): his roster says
"both", alice sees him available, he sees her available (the server probes
for him). alice logs out: bob sees her unavailable.

Prints "presence", "message" and "roster_push" lines as they arrive, and
"roster" lines with each client's roster at the end of its part.
"""

import asyncio

from slixhelper import logout, main, new_client, parser
from im_common import Client, is_from

PLUGINS = ['xep_0199']


async def run(args):
    alice_jid, bob_jid = args.alice.split('/')[0], args.bob.split('/')[0]
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    bob2 = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob2')
    # bob approves and asks back; alice only approves.
    alice.xmpp.auto_authorize, alice.xmpp.auto_subscribe = True, False
    for c in (bob, bob2):
        c.xmpp.auto_authorize, c.xmpp.auto_subscribe = True, True
    try:
        if await asyncio.gather(alice.online(args), bob.online(args)) != [True, True]:
            return False

        alice.xmpp.send_presence_subscription(pto=bob_jid)

        def both(jid):
            return lambda item: item['jid'] == jid and item['subscription'] == 'both'
        await asyncio.gather(
            alice.pushes.wait(both(bob_jid), 'bob with subscription both'),
            bob.pushes.wait(both(alice_jid), 'alice with subscription both'),
            alice.presences.wait(is_from(bob_jid, 'available'), 'bob available'),
            bob.presences.wait(is_from(alice_jid, 'available'), 'alice available'))
        # Anything the server still sends about the exchange comes before
        # the answers to these.
        await asyncio.gather(alice.barrier(), bob.barrier())
        alice.report_roster()
        bob.report_roster()

        seen = len(alice.presences.items)
        await logout(bob.xmpp)
        await alice.presences.wait(is_from(bob_jid, 'unavailable'),
                                   'bob unavailable after he logged out', start=seen)

        seen = len(alice.presences.items)
        if not await bob2.online(args):
            return False
        bob2.report_roster()
        await asyncio.gather(
            alice.presences.wait(is_from(bob_jid, 'available'),
                                 'bob available after he logged in again', start=seen),
            bob2.presences.wait(is_from(alice_jid, 'available'),
                                'alice available (answer to the probe)'))

        await logout(alice.xmpp)
        await bob2.presences.wait(is_from(alice_jid, 'unavailable'),
                                  'alice unavailable after she logged out')
        await bob2.barrier()
        return True
    finally:
        await asyncio.gather(logout(alice.xmpp), logout(bob.xmpp), logout(bob2.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    main(run, p.parse_args())
