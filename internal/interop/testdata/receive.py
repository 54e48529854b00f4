"""Logs in, sends initial presence and waits for one chat message.

Used with a message sent by another program (go-sendxmpp) while the user
was offline: it is delivered at login (XEP-0160). Prints the "session"
line and a "message" line with the message's from, to, type and body.
"""

import asyncio

from slixhelper import emit, login, logout, main, new_client, parser


async def run(args):
    xmpp = new_client(args, args.jid, args.password)
    got = asyncio.get_running_loop().create_future()

    def on_message(msg):
        if msg['type'] in ('chat', 'normal') and msg['body'] and not got.done():
            got.set_result(msg)

    xmpp.add_event_handler('message', on_message)
    xmpp.add_event_handler('session_start', lambda _: xmpp.send_presence())
    ok = await login(xmpp, args) == 'session'
    if ok:
        try:
            msg = await asyncio.wait_for(got, 15)
            emit('message', **{'from': str(msg['from'])}, to=str(msg['to']),
                 type=msg['type'], body=msg['body'])
        except asyncio.TimeoutError:
            emit('error', error='no message within 15s')
            ok = False
    await logout(xmpp)
    return ok


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    main(run, p.parse_args())
