"""Two slixmpp clients chat through the server.

alice and bob log in and send initial presence; alice sends a chat message to
bob's full JID, then one to his bare JID; bob answers the first one's sender.
The message bodies come from a UTF-8 JSON file {"full": .., "bare": ..,
"reply": ..}. Prints a "message" line for every message either client
receives, with who received it and its from, to, type, id and body.
"""

import asyncio
import json

from slixhelper import Checks, emit, login, logout, main, new_client, parser

WAIT = 15  # seconds for any one delivery


def recorder(who, queue):
    def on_message(msg):
        emit('message', who=who, type=msg['type'], id=msg['id'],
             body=msg['body'], **{'from': str(msg['from']), 'to': str(msg['to'])})
        queue.put_nowait(msg)
    return on_message


def presence_recorder(who):
    def on_presence(pres):
        emit('presence', who=who, type=pres['type'],
             **{'from': str(pres['from']), 'to': str(pres['to'])})
    return on_presence


async def run(args):
    with open(args.bodies, encoding='utf-8') as f:
        bodies = json.load(f)
    alice = new_client(args, args.alice, args.alice_password, plugins=['xep_0199'])
    bob = new_client(args, args.bob, args.bob_password, plugins=['xep_0199'])
    inbox = {'alice': asyncio.Queue(), 'bob': asyncio.Queue()}
    for who, xmpp in (('alice', alice), ('bob', bob)):
        xmpp.add_event_handler('message', recorder(who, inbox[who]))
        xmpp.add_event_handler('presence', presence_recorder(who))

    try:
        outcomes = await asyncio.gather(login(alice, args, 'alice'),
                                        login(bob, args, 'bob'))
        if outcomes != ['session', 'session']:
            return False

        for xmpp in (alice, bob):
            xmpp.send_presence()
        # The server handles a stream's stanzas in order (RFC 6120 section
        # 10.1): once it has answered a ping sent after the presence, both
        # resources are available and bare-JID routing can pick bob's.
        await asyncio.gather(alice['xep_0199'].send_ping('localhost', timeout=WAIT),
                             bob['xep_0199'].send_ping('localhost', timeout=WAIT))

        check = Checks()

        alice.send_message(mto=bob.boundjid.full, mbody=bodies['full'], mtype='chat')
        first = await asyncio.wait_for(inbox['bob'].get(), WAIT)
        check('first from', str(first['from']), str(alice.boundjid))
        check('first body', first['body'], bodies['full'])

        alice.send_message(mto=bob.boundjid.bare, mbody=bodies['bare'], mtype='chat')
        second = await asyncio.wait_for(inbox['bob'].get(), WAIT)
        check('second from', str(second['from']), str(alice.boundjid))
        check('second body', second['body'], bodies['bare'])

        bob.send_message(mto=first['from'], mbody=bodies['reply'], mtype='chat')
        reply = await asyncio.wait_for(inbox['alice'].get(), WAIT)
        check('reply from', str(reply['from']), str(bob.boundjid))
        check('reply body', reply['body'], bodies['reply'])

        # One more round trip each so that a duplicate delivery, if any, is
        # printed before the script ends.
        await asyncio.gather(alice['xep_0199'].send_ping('localhost', timeout=WAIT),
                             bob['xep_0199'].send_ping('localhost', timeout=WAIT))
        return check.ok
    finally:
        await asyncio.gather(logout(alice), logout(bob))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--bodies', required=True, help='JSON file of message bodies')
    main(run, p.parse_args())
