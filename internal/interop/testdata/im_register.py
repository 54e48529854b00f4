"""Creates an account by in-band registration (XEP-0077), then logs in.

The client connects as the new account; when the server offers the
registration stream feature, slixmpp's xep_0077 plugin asks for the form
(section 3.1) and this script fills in the username and password and submits
it. slixmpp then goes on to authenticate, on the same stream, with those
credentials, unless --register-only.

Prints a "register_form" line (the fields the server asked for, as
"features", and its instructions as "text"), a "register" line with the
type of the server's answer (and its error condition), then the "session"
or "no_session" line of the login.
"""

from slixhelper import ask, emit, login, logout, main, new_client, parser
from im_common import WAIT


async def run(args):
    xmpp = new_client(args, args.jid, args.password, plugins=['xep_0077'])
    # slixmpp 1.8.3 holds back every stanza sent before the session starts
    # except resource binding and session IQs (XMLStream.send logs "NOT
    # SENT"), its own registration IQs included, so that the registration
    # stream feature waits forever; later versions let registration IQs
    # through. Until the registration is done, the gate is off: nothing else
    # is sent before authentication.
    xmpp._always_send_everything = True
    if args.register_only:
        # No SASL mechanism to try: the login ends in auth-failure with no
        # attempt, once the registration was answered.
        xmpp['feature_mechanisms'].use_mechs = set()
    answered = []

    async def on_register(form):
        reg = form['register']
        emit('register_form', features=sorted(reg['fields']),
             text=reg['instructions'], registered=bool(reg['registered']))
        iq = xmpp.Iq()
        iq['type'] = 'set'
        iq['register']['username'] = xmpp.boundjid.user
        iq['register']['password'] = xmpp.password
        result = await ask('register', iq.send(timeout=WAIT))
        if result is not None:
            emit('register', type=result['type'])
        answered.append(True)
        xmpp._always_send_everything = False

    xmpp.add_event_handler('register', on_register)
    outcome = await login(xmpp, args)
    await logout(xmpp)
    return bool(answered) and outcome == args.expect


if __name__ == '__main__':
    p = parser(__doc__, account=True)  # --jid: the account to create
    p.add_argument('--expect', default='session', choices=['session', 'auth-failure'],
                   help='how the login after registering ends')
    p.add_argument('--register-only', action='store_true',
                   help='do not try to log in (--expect auth-failure)')
    main(run, p.parse_args())
