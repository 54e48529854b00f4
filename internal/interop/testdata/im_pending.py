"""A subscription request to an offline user reaches them at their login.

alice logs in and asks for a subscription to dave, who has no session; her
roster push says the request is pending. dave logs in: once he has sent
initial presence the server delivers the stored request (RFC 6121 section
3.1.3); his client approves it (auto_authorize, no request back), and alice
must receive the approval and a push with subscription "to".

Prints "presence" and "roster_push" lines, and the "roster" of each at the
end.
"""

import asyncio

from slixhelper import logout, main, new_client, parser
from im_common import Client, is_from

PLUGINS = ['xep_0199']


async def run(args):
    alice_jid, dave_jid = args.alice.split('/')[0], args.dave.split('/')[0]
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    dave = Client(new_client(args, args.dave, args.dave_password, plugins=PLUGINS), 'dave')
    dave.xmpp.auto_authorize, dave.xmpp.auto_subscribe = True, False
    try:
        if not await alice.online(args):
            return False
        alice.xmpp.send_presence_subscription(pto=dave_jid)
        await alice.pushes.wait(lambda i: i['jid'] == dave_jid and i['ask'] == 'subscribe',
                                'dave with a pending request')

        if not await dave.online(args):
            return False
        await dave.presences.wait(is_from(alice_jid, 'subscribe'),
                                  "alice's request, stored while he was offline")
        await asyncio.gather(
            alice.presences.wait(is_from(dave_jid, 'subscribed'), "dave's approval"),
            alice.pushes.wait(lambda i: i['jid'] == dave_jid and i['subscription'] == 'to',
                              'dave with subscription to'))
        await asyncio.gather(alice.barrier(), dave.barrier())
        alice.report_roster()
        dave.report_roster()
        return True
    finally:
        await asyncio.gather(logout(alice.xmpp), logout(dave.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'dave'))
    main(run, p.parse_args())
