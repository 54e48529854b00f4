"""Messages from a contact the user blocks are not delivered (XEP-0191).

alice, bob and carol log in. alice blocks bob and reads her blocklist. bob
sends alice a message ("blocked") and waits for the server to have handled
it (a ping round trip); then carol sends alice one ("barrier"). alice waits
for carol's: bob's, had it been delivered, would have come first. bob waits
for the error the server returns him (XEP-0191 section 3.4). alice unblocks
bob, bob sends again ("unblocked") and alice must receive it.

Prints "message" lines, a "blocklist" line with alice's blocklist after the
block and another after the unblock.
"""

import asyncio

from slixhelper import emit, logout, main, new_client, parser
from im_common import Client, is_from

PLUGINS = ['xep_0199', 'xep_0191']


async def blocklist(client):
    iq = await client.xmpp['xep_0191'].get_blocked(timeout=15)
    emit('blocklist', who=client.who,
         items=sorted(str(j) for j in iq['blocklist']['items']))


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    carol = Client(new_client(args, args.carol, args.carol_password, plugins=PLUGINS), 'carol')
    alice_jid, bob_jid, carol_jid = (j.split('/')[0] for j in (args.alice, args.bob, args.carol))
    try:
        if await asyncio.gather(alice.online(args), bob.online(args),
                                carol.online(args)) != [True, True, True]:
            return False

        await alice.xmpp['xep_0191'].block(bob_jid, timeout=15)
        await blocklist(alice)

        bob.xmpp.send_message(mto=alice_jid, mbody='blocked', mtype='chat')
        await bob.barrier()
        carol.xmpp.send_message(mto=alice_jid, mbody='barrier', mtype='chat')
        await alice.messages.wait(is_from(carol_jid, 'chat'), "carol's message")
        await bob.messages.wait(is_from(alice_jid, 'error'),
                                "the error for his message to alice, who blocks him")

        await alice.xmpp['xep_0191'].unblock(bob_jid, timeout=15)
        await blocklist(alice)
        seen = len(alice.messages.items)
        bob.xmpp.send_message(mto=alice_jid, mbody='unblocked', mtype='chat')
        await alice.messages.wait(is_from(bob_jid, 'chat'),
                                  "bob's message once he is unblocked", start=seen)
        # Anything else on its way to either comes before these answers.
        await asyncio.gather(alice.barrier(), bob.barrier())
        return True
    finally:
        await asyncio.gather(logout(alice.xmpp), logout(bob.xmpp), logout(carol.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob', 'carol'))
    main(run, p.parse_args())
