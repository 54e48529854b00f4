"""A message to a user who is offline arrives at their next login, stamped.

bob logs in and sends alice, who has no session, a chat message with the
given body, then a ping round trip (the server has handled the message once
it answers). alice logs in and, once she has sent initial presence, must
receive it (RFC 6121 section 8.5.2.2, XEP-0160) with a XEP-0203 delay.

Prints "message" lines (with "stamp" and "delay_from" when delayed) and a
"sent" line with bob's full JID, the message's id and the times around
the send.
"""

import asyncio
import datetime

from slixhelper import emit, logout, main, new_client, parser
from im_common import Client, is_from

PLUGINS = ['xep_0199']  # and xep_0203, which Client adds


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


async def run(args):
    alice_jid = args.alice.split('/')[0]
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    try:
        if not await bob.online(args):
            return False
        before = now()
        msg = bob.xmpp.make_message(mto=alice_jid, mbody=args.body, mtype='chat')
        msg.send()
        await bob.barrier()
        emit('sent', who='bob', jid=str(bob.xmpp.boundjid), id=msg['id'],
             before=before, after=now())
        await logout(bob.xmpp)

        if not await alice.online(args):
            return False
        await alice.messages.wait(is_from(args.bob.split('/')[0], 'chat'),
                                  "bob's message, stored while she was offline")
        # A second copy, if any, would come before this answer.
        await alice.barrier()
        return True
    finally:
        await asyncio.gather(logout(bob.xmpp), logout(alice.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--body', required=True)
    main(run, p.parse_args())
