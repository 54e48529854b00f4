"""Logs in with slixmpp and asks the server for its disco#info (XEP-0030).

Prints a "disco_info" line with the answer's from, its identities as
[category, type, name] and its features, or a "disco_error" line.
"""

from slixhelper import ask, emit, login, logout, main, new_client, parser


async def run(args):
    xmpp = new_client(args, args.jid, args.password, plugins=['xep_0030'])
    if await login(xmpp, args) != 'session':
        await logout(xmpp)
        return False
    iq = await ask('disco_error', xmpp['xep_0030'].get_info(
        jid=args.target, local=False, timeout=10))
    if iq is not None:
        info = iq['disco_info']
        identities = sorted([category, itype, name or '']
                            for category, itype, _lang, name
                            in info.get_identities(dedupe=False))
        emit('disco_info', type=iq['type'], identities=identities,
             features=sorted(info.get_features(dedupe=False)), node=info['node'],
             **{'from': str(iq['from'])})
    ok = iq is not None
    await logout(xmpp)
    return ok


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    p.add_argument('--target', default='localhost', help='JID to ask')
    main(run, p.parse_args())
