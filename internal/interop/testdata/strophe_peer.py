"""The TCP side of the browser test (strophe_test.go): bob, a slixmpp user.

bob logs in with the resource the page writes to and sends initial
presence; the page (Strophe.js over WebSocket or BOSH) says hello, and bob
answers its sender with "ping KIND", which the page echoes back. Prints
the "session" line once bob is online, then a "message" line for the hello
and one for the echo (from, to, type, body).
"""

import asyncio

from slixhelper import Checks, emit, login, logout, main, new_client, parser

WAIT = 40  # seconds for the browser to start and log in, then for each message


async def run(args):
    xmpp = new_client(args, args.jid, args.password, plugins=['xep_0199'])
    inbox = asyncio.Queue()

    def on_message(msg):
        if msg['type'] == 'chat' and msg['body']:
            emit('message', type=msg['type'], body=msg['body'],
                 **{'from': str(msg['from']), 'to': str(msg['to'])})
            inbox.put_nowait(msg)

    xmpp.add_event_handler('message', on_message)
    if await login(xmpp, args) != 'session':
        return False
    xmpp.send_presence()
    # the server handles a stream's stanzas in order: once it answered a
    # ping sent after the presence, bob is available
    await xmpp['xep_0199'].send_ping('localhost', timeout=WAIT)
    emit('online', jid=str(xmpp.boundjid))
    check = Checks()

    hello = await asyncio.wait_for(inbox.get(), WAIT)
    check('hello body', hello['body'], 'hello from strophe over ' + args.kind)
    xmpp.send_message(mto=hello['from'], mbody='ping ' + args.kind, mtype='chat')
    echo = await asyncio.wait_for(inbox.get(), WAIT)
    check('echo from', str(echo['from']), str(hello['from']))
    check('echo body', echo['body'], 'echo: ping ' + args.kind)
    await logout(xmpp)
    return check.ok


if __name__ == '__main__':
    p = parser(__doc__)
    p.add_argument('--jid', required=True, help='a full JID: the page writes to it')
    p.add_argument('--password', required=True)
    p.add_argument('--kind', required=True, help='websocket or bosh, as the page says')
    main(run, p.parse_args())
