"""The server's services through slixmpp's own plugins.

adhoc: alice, an admin, lists the commands (xep_0133), adds carol in two
stages (xep_0050: execute, then complete with the form) and counts the
registered users (one stage); bob, a user, is refused; carol logs in.
Prints "commands", "command" (node, status, note, values) and "command_error".

proxy: alice sends bob a file through the server's SOCKS5 proxy (xep_0065:
discovery, bob connects, alice connects and activates). Prints "file" with
whether bob got every byte.

upload: alice uploads a file (xep_0363) and fetches it back over HTTPS.
Prints "file" with whether the fetched bytes are those uploaded, and
"upload_error" for a file over the limit.
"""

import asyncio
import hashlib
import os
import ssl
import urllib.request

from slixhelper import IqError, emit, login, logout, main, new_client, parser

NS_ADMIN = 'http://jabber.org/protocol/admin'
WAIT = 15


def command(xmpp, who, name, fields=None):
    """Runs XEP-0133 command name through xep_0050's session flow: the form
    (if any) is completed with fields. Returns a future of the last iq."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_done(iq, session):
        cmd = iq['command']
        values = []
        form = cmd['form']
        if form is not None:
            for var, field in form.get_fields().items():
                if var != 'FORM_TYPE':
                    v = field.get_value()
                    values += v if isinstance(v, list) else [str(v)]
        notes = [n[1] for n in cmd['notes']]
        emit('command', who=who, what=name, outcome=cmd['status'],
             text=' '.join(notes), items=values)
        if not done.done():
            done.set_result(iq)

    def on_form(iq, session):
        if iq['command']['status'] != 'executing':
            return on_done(iq, session)
        form = xmpp['xep_0004'].make_form(ftype='submit')
        form.add_field(var='FORM_TYPE', ftype='hidden', value=NS_ADMIN)
        for var, value in (fields or {}).items():
            form.add_field(var=var, value=value)
        session['payload'] = form
        session['next'] = on_done
        xmpp['xep_0050'].complete_command(session)

    def on_error(iq, session):
        emit('command_error', who=who, what=name,
             condition=iq['error']['condition'])
        if not done.done():
            done.set_result(iq)

    getattr(xmpp['xep_0133'], name.replace('-', '_'))(
        session={'next': on_form, 'error': on_error})
    return asyncio.wait_for(done, WAIT)


async def adhoc(args):
    alice = new_client(args, args.alice, args.alice_password, plugins=['xep_0133'])
    bob = new_client(args, args.bob, args.bob_password, plugins=['xep_0133'])
    try:
        if [await login(alice, args, 'alice'), await login(bob, args, 'bob')] != ['session'] * 2:
            return False
        iq = await alice['xep_0133'].get_commands(timeout=WAIT)
        emit('commands', who='alice', items=[i[1] for i in iq['disco_items']['items']])
        await command(alice, 'alice', 'add-user', {
            'accountjid': 'carol@localhost', 'password': 'carol-secret',
            'password-verify': 'carol-secret'})
        await command(alice, 'alice', 'get-registered-users-num')
        await command(bob, 'bob', 'add-user')
        carol = new_client(args, 'carol@localhost/r', 'carol-secret')
        ok = await login(carol, args, 'carol') == 'session'
        await logout(carol)
        return ok
    finally:
        await asyncio.gather(logout(alice), logout(bob))


async def proxy(args):
    alice = new_client(args, args.alice, args.alice_password, plugins=['xep_0065'])
    bob = new_client(args, args.bob, args.bob_password, plugins=['xep_0065'])
    data = os.urandom(300 * 1024 + 7)
    loop = asyncio.get_running_loop()
    got = bytearray()
    finished = loop.create_future()

    def on_data(data):
        got.extend(data)
        if len(got) >= len(want) and not finished.done():
            finished.set_result(True)

    want = data
    bob['xep_0065'].auto_accept = True  # bob takes the stream alice offers
    bob.add_event_handler('socks5_data', on_data)
    try:
        if [await login(alice, args, 'alice'), await login(bob, args, 'bob')] != ['session'] * 2:
            return False
        proxies = await alice['xep_0065'].discover_proxies(timeout=WAIT)
        await bob['xep_0065'].discover_proxies(timeout=WAIT)
        emit('proxies', who='alice', items=sorted('%s %s:%s' % (j, h, p) for j, (h, p) in proxies.items()))
        sock = await alice['xep_0065'].handshake(bob.boundjid, timeout=WAIT)
        if sock is None:
            emit('mismatch', what='handshake', got='no socket')
            return False
        await sock.write(data)
        await asyncio.wait_for(finished, WAIT)
        ok = bytes(got) == data
        emit('file', who='bob', ok=ok, got=hashlib.sha1(bytes(got)).hexdigest(),
             want=hashlib.sha1(data).hexdigest())
        return ok
    finally:
        # (xep_0065's close() calls a close the protocol objects lack)
        for c in (alice, bob):
            for proto in list(c['xep_0065']._sessions.values()):
                proto.transport.close()
        await asyncio.gather(logout(alice), logout(bob))


async def upload(args):
    alice = new_client(args, args.alice, args.alice_password, plugins=['xep_0363'])
    data = os.urandom(200 * 1024 + 3)
    # xep_0363 PUTs with aiohttp and the default trust store: make it the
    # server's certificate (OpenSSL reads this when a context is made)
    os.environ['SSL_CERT_FILE'] = args.ca
    try:
        if await login(alice, args, 'alice') != 'session':
            return False
        path = os.path.join(os.getcwd(), 'note.txt')
        with open(path, 'wb') as f:
            f.write(data)
        # slixmpp 1.8.3's own service discovery (get_info_from_domain) fails
        # on Python 3.11 (asyncio.wait of coroutines): find it as it would
        items = await alice['xep_0030'].get_items(jid=alice.boundjid.domain, timeout=WAIT)
        for item in items['disco_items']['items']:
            info = await alice['xep_0030'].get_info(jid=item[0], timeout=WAIT)
            if 'urn:xmpp:http:upload:0' in info['disco_info']['features']:
                alice['xep_0363'].upload_service = info['from']
                for form in info['disco_info'].iterables:
                    values = form['values']
                    if values['FORM_TYPE'] == ['urn:xmpp:http:upload:0']:
                        alice['xep_0363'].max_file_size = int(values['max-file-size'])
        emit('upload_service', who='alice', jid=str(alice['xep_0363'].upload_service),
             items=[str(alice['xep_0363'].max_file_size)])
        url = await alice['xep_0363'].upload_file(path, content_type='text/plain',
                                                  timeout=WAIT)
        ctx = ssl.create_default_context(cafile=args.ca)
        with urllib.request.urlopen(url, context=ctx, timeout=WAIT) as res:
            body = res.read()
            ctype = res.headers.get('Content-Type')
        ok = body == data and ctype == 'text/plain'
        emit('file', who='alice', ok=ok, what=ctype,
             got=hashlib.sha1(body).hexdigest(), want=hashlib.sha1(data).hexdigest())
        try:
            await alice['xep_0363'].request_slot(alice['xep_0363'].upload_service,
                                                 'big.bin', 10 ** 9, timeout=WAIT)
            emit('mismatch', what='a slot over the limit', got='granted')
        except IqError as e:
            emit('upload_error', who='alice', condition=e.iq['error']['condition'],
                 text=e.iq['error']['text'])
        return ok
    finally:
        await logout(alice)


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('what', choices=['adhoc', 'proxy', 'upload'])
    a = p.parse_args()
    main({'adhoc': adhoc, 'proxy': proxy, 'upload': upload}[a.what], a)
