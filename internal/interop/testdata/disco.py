"""Logs in with slixmpp and asks the server for its disco#info (XEP-0030).

Prints a "disco_info" line with the answer's from, its identities as
[category, type, name] and its features, or a "disco_error" line.
"""

from slixhelper import IqError, IqTimeout, emit, login, logout, main, new_client, parser


async def run(args):
    xmpp = new_client(args, args.jid, args.password, plugins=['xep_0030'])
    if await login(xmpp, args) != 'session':
        await logout(xmpp)
        return False
    ok = True
    try:
        iq = await xmpp['xep_0030'].get_info(jid=args.target, local=False,
                                             timeout=10)
        info = iq['disco_info']
        identities = sorted([category, itype, name or '']
                            for category, itype, _lang, name
                            in info.get_identities(dedupe=False))
        emit('disco_info', type=iq['type'], identities=identities,
             features=sorted(info.get_features(dedupe=False)), node=info['node'],
             **{'from': str(iq['from'])})
    except IqError as e:
        emit('disco_error', type=e.iq['type'], condition=e.condition, text=e.text)
        ok = False
    except IqTimeout:
        emit('disco_error', type='timeout')
        ok = False
    await logout(xmpp)
    return ok


if __name__ == '__main__':
    p = parser(__doc__)
    p.add_argument('--jid', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--target', default='localhost', help='JID to ask')
    main(run, p.parse_args())
