"""Drives Debian's aioxmpp (a second, independent client library).

Optionally creates an account by in-band registration (XEP-0077) on a
stream of its own after STARTTLS, then logs alice and bob in over STARTTLS
with aioxmpp's default SASL choice (the server's self-signed certificate is
accepted without verification, as a user clicking through would), gets each
one's roster, has alice send bob a chat message and bob answer, and, with
--register, logs the new account in.

Prints JSON lines in the schema of slixhelper.py: "register_form",
"register", "session", "roster", "message", "failed_auth" (a SASL failure
aioxmpp saw, whether or not it went on), "error" and "exit".
"""

import argparse
import asyncio
import logging
import sys

import aiosasl
import aioxmpp
import aioxmpp.connector
import aioxmpp.dispatcher
import aioxmpp.ibr
import aioxmpp.node
import aioxmpp.roster

from report import Checks, emit

WAIT = 15


# What the SASL state machine does, for every client of this process: the
# mechanism tried, and every failure, even one aioxmpp recovers from.
_mechanism = {}
_initiate = aiosasl.SASLStateMachine.initiate
_response = aiosasl.SASLStateMachine.response


def _failed(exc, mech):
    emit('failed_auth', mechanism=mech, condition=str(exc.opaque_error or ''),
         text=str(exc.text or ''))


async def initiate(self, mechanism, payload=None):
    _mechanism[id(self)] = _mechanism['last'] = mechanism
    try:
        return await _initiate(self, mechanism, payload)
    except aiosasl.SASLFailure as exc:
        _failed(exc, mechanism)
        raise


async def response(self, payload):
    try:
        return await _response(self, payload)
    except aiosasl.SASLFailure as exc:
        _failed(exc, _mechanism.get(id(self), ''))
        raise


aiosasl.SASLStateMachine.initiate = initiate
aiosasl.SASLStateMachine.response = response


def peer(args):
    host, _, port = args.addr.rpartition(':')
    return [(host, int(port), aioxmpp.connector.STARTTLSConnector())]


def security(password):
    return aioxmpp.make_security_layer(password, no_verify=True)


async def register(args, jid, password):
    """Registers jid's localpart on a stream of its own (after STARTTLS)."""
    j = aioxmpp.JID.fromstr(jid)
    # no SASL providers: connect_xmlstream stops after STARTTLS
    layer = security(password)._replace(sasl_providers=())
    _, stream, features = await aioxmpp.node.connect_xmlstream(
        j, layer, override_peer=peer(args))
    try:
        form = await aioxmpp.ibr.get_registration_fields(stream, timeout=WAIT)
        emit('register_form', features=sorted(name for _, name in aioxmpp.ibr.get_used_fields(form)),
             text=form.instructions or '')
        query = aioxmpp.ibr.Query(j.localpart, password)
        try:
            await aioxmpp.ibr.register(stream, query, timeout=WAIT)
            emit('register', type='result')
        except aioxmpp.errors.XMPPError as e:
            emit('register', type='error', condition=e.condition.value[1] if hasattr(e.condition, 'value') else str(e.condition))
    finally:
        stream.close()


class Session:
    """One logged-in client: its roster and the messages it received."""

    def __init__(self, args, jid, password, who):
        self.who = who
        self.client = aioxmpp.PresenceManagedClient(
            aioxmpp.JID.fromstr(jid), security(password), override_peer=peer(args))
        self.roster = self.client.summon(aioxmpp.RosterClient)
        self.got_roster = asyncio.Event()
        self.roster.on_initial_roster_received.connect(self._roster)
        self.inbox = asyncio.Queue()
        d = self.client.summon(aioxmpp.dispatcher.SimpleMessageDispatcher)
        d.register_callback(aioxmpp.MessageType.CHAT, None, self._message)

    def _roster(self):
        self.got_roster.set()

    def _message(self, msg):
        body = msg.body.any() if msg.body else ''
        emit('message', who=self.who, **{'from': str(msg.from_)}, to=str(msg.to),
             type=msg.type_.value, body=body)
        self.inbox.put_nowait(msg)

    async def wait_roster(self):
        await asyncio.wait_for(self.got_roster.wait(), WAIT)
        items = sorted(str(j) for j in self.roster.items)
        emit('roster', who=self.who, items=items, ver=self.roster.version or '')

    def session_facts(self):
        # clients log in one after the other: the last mechanism tried is theirs
        emit('session', who=self.who, jid=str(self.client.local_jid), starttls=True,
             mechanism=_mechanism.get('last', ''))

    async def send(self, to, body):
        msg = aioxmpp.Message(to=to, type_=aioxmpp.MessageType.CHAT)
        msg.body[None] = body
        await self.client.send(msg)


async def run(args):
    if args.register_jid:
        await register(args, args.register_jid, args.register_password)
    alice = Session(args, args.alice, args.alice_password, 'alice')
    bob = Session(args, args.bob, args.bob_password, 'bob')
    async with alice.client.connected(), bob.client.connected():
        alice.session_facts()
        bob.session_facts()
        await alice.wait_roster()
        await bob.wait_roster()
        await alice.send(bob.client.local_jid, args.body)
        got = await asyncio.wait_for(bob.inbox.get(), WAIT)
        await bob.send(got.from_, 'reply: ' + args.body)
        await asyncio.wait_for(alice.inbox.get(), WAIT)
    if args.register_jid:
        fresh = Session(args, args.register_jid, args.register_password, 'new')
        async with fresh.client.connected():
            fresh.session_facts()
            await fresh.wait_roster()
    return True


def parser(doc, users=()):
    """The options every aioxmpp script takes, and for each name in users
    --NAME (a JID) and --NAME-password; each script adds its own."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument('--addr', required=True)
    p.add_argument('--ca', default='', help='unused: the certificate is accepted unverified')
    p.add_argument('--timeout', type=float, default=40)
    for who in users:
        p.add_argument('--' + who, required=True)
        p.add_argument('--%s-password' % who, required=True)
    return p


def serve(run, args):
    """Runs run(args) within the time budget and exits 0 if it returned
    true, printing "error" and "exit" as slixhelper.py does."""
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    try:
        ok = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except asyncio.TimeoutError:
        emit('error', error='timed out after %gs' % args.timeout)
        sys.exit(2)
    except Exception as e:
        logging.exception('script failed')
        emit('error', error='%s: %s' % (type(e).__name__, e))
        ok = False
    emit('exit', ok=ok)
    sys.exit(0 if ok else 1)


def main():
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--body', default='hello from aioxmpp')
    p.add_argument('--register-jid', default='')
    p.add_argument('--register-password', default='')
    serve(run, p.parse_args())


if __name__ == '__main__':
    main()
