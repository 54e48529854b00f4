"""Logs in, sends initial presence and stays online until the server ends
the stream. Prints the "session" line, then the "stream_error" line the
server's stream error fires (slixhelper's handler), then "ended" once
slixmpp saw the connection close."""

import asyncio

from slixhelper import emit, login, main, new_client, parser


async def run(args):
    xmpp = new_client(args, args.jid, args.password)
    ended = asyncio.get_running_loop().create_future()

    def on_end(_):
        if not ended.done():
            ended.set_result(None)

    xmpp.add_event_handler('session_start', lambda _: xmpp.send_presence())
    if await login(xmpp, args) != 'session':
        return False
    xmpp.add_event_handler('disconnected', on_end)
    xmpp.add_event_handler('killed', on_end)
    emit('waiting')
    try:
        await asyncio.wait_for(ended, 30)
    except asyncio.TimeoutError:
        emit('error', error='the server did not end the stream within 30s')
        return False
    emit('ended')
    return True


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    main(run, p.parse_args())
