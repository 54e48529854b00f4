"""A slixmpp ComponentXMPP and a slixmpp client talk through the server.

The component connects to the component port (XEP-0114) as --component with
--secret. With --expect not-authorized it only reports the stream error it
gets. Otherwise the client (--jid) logs in and sends initial presence; it
sends a chat message to a JID under the component, which answers it; it asks
the component its software version (XEP-0092), which the component's
xep_0092 plugin answers; it sends a directed presence to the component, and
the component one to it. Prints "session" (who=client|component),
"message", "presence" and "version" lines.
"""

import asyncio

import slixmpp

from slixhelper import IqError, IqTimeout, emit, login, logout, main, new_client, parser, split_addr

WAIT = 15  # seconds for any one delivery


async def connect_component(args):
    comp = slixmpp.ComponentXMPP(args.component, args.secret)
    comp.register_plugin('xep_0030')
    comp.register_plugin('xep_0092', {'software_name': 'Gateway', 'version': '1.0'})
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def finish(outcome, **fields):
        if not done.done():
            done.set_result((outcome, fields))

    def on_stream_error(error):
        emit('stream_error', who='component', condition=error['condition'], text=error['text'])
        finish('stream-error')

    comp.add_event_handler('session_start', lambda _: finish('session'))
    comp.add_event_handler('stream_error', on_stream_error)
    comp.add_event_handler('disconnected', lambda r: finish('disconnected'))
    comp.add_event_handler('connection_failed', lambda e: finish('connection-failure'))
    host, port = split_addr(args.component_addr)
    comp.connect(host, port)
    outcome, _ = await done
    if outcome == 'session':
        emit('session', who='component', jid=str(comp.boundjid))
    else:
        emit('no_session', who='component', outcome=outcome)
    return comp, outcome


async def run(args):
    comp, outcome = await connect_component(args)
    if args.expect != 'ok':
        await logout(comp)
        return outcome == 'stream-error'
    if outcome != 'session':
        return False

    comp_inbox, alice_inbox = asyncio.Queue(), asyncio.Queue()
    comp_pres, alice_pres = asyncio.Queue(), asyncio.Queue()

    def on_comp_message(msg):
        emit('message', who='component', type=msg['type'], id=msg['id'], body=msg['body'],
             **{'from': str(msg['from']), 'to': str(msg['to'])})
        comp_inbox.put_nowait(msg)

    def on_comp_presence(pres):
        emit('presence', who='component', type=pres['type'],
             **{'from': str(pres['from']), 'to': str(pres['to'])})
        comp_pres.put_nowait(pres)

    comp.add_event_handler('message', on_comp_message)
    comp.add_event_handler('presence_available', on_comp_presence)

    alice = new_client(args, args.jid, args.password, plugins=['xep_0030', 'xep_0092'])

    def on_alice_message(msg):
        if msg['type'] == 'chat':
            emit('message', who='client', type=msg['type'], id=msg['id'], body=msg['body'],
                 **{'from': str(msg['from']), 'to': str(msg['to'])})
            alice_inbox.put_nowait(msg)

    def on_alice_presence(pres):
        if pres['from'].domain == args.component:
            emit('presence', who='client', type=pres['type'],
                 **{'from': str(pres['from']), 'to': str(pres['to'])})
            alice_pres.put_nowait(pres)

    alice.add_event_handler('message', on_alice_message)
    alice.add_event_handler('presence_available', on_alice_presence)
    ok = True
    try:
        if await login(alice, args, 'client') != 'session':
            return False
        alice.send_presence()

        legacy = 'bob@' + args.component
        alice.send_message(mto=legacy, mbody='hello gateway', mtype='chat')
        got = await asyncio.wait_for(comp_inbox.get(), WAIT)
        comp.send_message(mto=got['from'], mfrom=legacy + '/legacy', mbody='hello ' + got['from'].user,
                          mtype='chat')
        await asyncio.wait_for(alice_inbox.get(), WAIT)

        try:
            v = await alice['xep_0092'].get_version(args.component, timeout=WAIT)
            emit('version', name=v['software_version']['name'], **{'from': str(v['from'])})
        except (IqError, IqTimeout) as e:
            emit('error', error='version: %r' % e)
            ok = False

        alice.send_presence(pto=legacy)
        await asyncio.wait_for(comp_pres.get(), WAIT)
        comp.send_presence(pto=alice.boundjid.full, pfrom=legacy + '/legacy')
        await asyncio.wait_for(alice_pres.get(), WAIT)
    finally:
        await logout(alice)
        await logout(comp)
    return ok


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    p.add_argument('--component-addr', required=True)
    p.add_argument('--component', required=True)
    p.add_argument('--secret', required=True)
    p.add_argument('--expect', default='ok', choices=['ok', 'not-authorized'])
    main(run, p.parse_args())
