"""Logs in with slixmpp and optionally pings the server (XEP-0199).

Prints a "session" line (bound JID, SASL mechanism, TLS version, whether
STARTTLS was used, the names in the server's certificate) or a "no_session"
line with the outcome, a "failed_auth" line per SASL <failure/>, and with
--ping a "ping" line with the type of the server's answer.
"""

from slixhelper import ask, emit, login, logout, main, new_client, parser


async def run(args):
    xmpp = new_client(args, args.jid, args.password, mech=args.mech or None,
                      plugins=['xep_0199'])
    outcome = await login(xmpp, args)
    ok = outcome == args.expect
    if outcome == 'session' and args.ping:
        iq = await ask('ping', xmpp['xep_0199'].send_ping(args.ping, timeout=10))
        if iq is None:
            ok = False
        else:
            emit('ping', type=iq['type'], **{'from': str(iq['from'])})
    await logout(xmpp)
    return ok


if __name__ == '__main__':
    p = parser(__doc__, account=True)
    p.add_argument('--mech', default='',
                   help='the only SASL mechanism to use; empty: slixmpp picks')
    p.add_argument('--ping', default='', help='JID to ping once logged in')
    p.add_argument('--expect', default='session',
                   choices=['session', 'auth-failure', 'tls-failure',
                            'connection-failure', 'stream-error',
                            'disconnected'])
    main(run, p.parse_args())
