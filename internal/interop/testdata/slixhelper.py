"""Shared plumbing for the slixmpp interop scripts run by slixmpp_test.go.

Every script prints what it observed as JSON lines on stdout (one object per
line, always with an "event" key) and logs slixmpp's debug output, the XML
sent and received included, on stderr. A script exits 0 when what it saw
matches what it was asked to expect, 1 when it does not, and 2 when it ran
out of time; the Go test checks the JSON lines too.
"""

import argparse
import asyncio
import logging
import socket
import ssl
import sys
from pathlib import Path

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from report import Checks, emit

__all__ = ['IqError', 'IqTimeout', 'emit', 'Checks', 'parser', 'new_client', 'login',
           'logout', 'session_facts', 'ask', 'main']


def parser(description, users=(), account=False):
    """An argument parser with the options every script takes; with account,
    --jid and --password; for each name in users, --NAME (a JID, may have a
    resource) and --NAME-password."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument('--addr', required=True,
                   help='host:port of the server (the host is also the TLS name)')
    p.add_argument('--ca', default='',
                   help="PEM file to trust for the server's certificate; "
                        'empty: the system trust store')
    p.add_argument('--tls-name', default='',
                   help='the TLS name (SNI, certificate check) instead of the host '
                        "of --addr, e.g. a virtual host's domain; the host is then only dialed")
    p.add_argument('--direct-tls', action='store_true',
                   help='TLS from the first byte (XEP-0368) instead of STARTTLS')
    p.add_argument('--timeout', type=float, default=40,
                   help='seconds before the script gives up')
    if account:
        p.add_argument('--jid', required=True)
        p.add_argument('--password', required=True)
    for who in users:
        p.add_argument('--' + who, required=True, help='JID, may have a resource')
        p.add_argument('--%s-password' % who, required=True)
    return p


def split_addr(addr):
    host, _, port = addr.rpartition(':')
    return host.strip('[]'), int(port)


def new_client(args, jid, password, mech=None, plugins=()):
    """A ClientXMPP that dials args.addr and verifies the server's certificate
    against args.ca."""
    xmpp = slixmpp.ClientXMPP(jid, password, sasl_mech=mech)
    if args.ca:
        xmpp.ca_certs = Path(args.ca)
    # The test server listens on 127.0.0.1 only; do not try ::1 first.
    xmpp.use_ipv6 = False
    for name in plugins:
        xmpp.register_plugin(name)
    return xmpp


def session_facts(xmpp):
    """What a user can tell about an established session."""
    sock = xmpp.socket
    facts = {'jid': str(xmpp.boundjid), 'starttls': 'starttls' in xmpp.features}
    mech = xmpp['feature_mechanisms'].mech
    facts['mechanism'] = mech.name if mech is not None else ''
    if isinstance(sock, (ssl.SSLObject, ssl.SSLSocket)):
        facts['tls'] = sock.version() or ''
        cert = sock.getpeercert() or {}
        facts['peer_names'] = [v for k, v in cert.get('subjectAltName', ())
                               if k == 'DNS']
    else:
        facts['tls'] = ''
    return facts


async def login(xmpp, args, who=''):
    """Connects and waits for the session, an authentication failure, a TLS
    failure or the end of the connection. Prints what happened; returns the
    outcome: 'session', 'auth-failure', 'tls-failure', 'connection-failure',
    'stream-error' or 'disconnected'."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    tag = {'who': who} if who else {}

    def finish(outcome, **fields):
        if not done.done():
            done.set_result((outcome, fields))

    def on_failed_auth(failure):
        mech = xmpp['feature_mechanisms'].mech
        emit('failed_auth', mechanism=mech.name if mech else '',
             condition=failure['condition'], text=failure['text'], **tag)

    def on_stream_error(error):
        emit('stream_error', condition=error['condition'],
             text=error['text'], **tag)
        finish('stream-error', condition=error['condition'])

    xmpp.add_event_handler('session_start',
                           lambda _: finish('session', **session_facts(xmpp)))
    xmpp.add_event_handler('failed_auth', on_failed_auth)
    xmpp.add_event_handler('failed_all_auth', lambda _: finish('auth-failure'))
    xmpp.add_event_handler('stream_error', on_stream_error)
    xmpp.add_event_handler('ssl_invalid_chain',
                           lambda e: finish('tls-failure', error=str(e)))
    xmpp.add_event_handler('connection_failed',
                           lambda e: finish('connection-failure', error=str(e)))
    xmpp.add_event_handler('disconnected',
                           lambda reason: finish('disconnected',
                                                 reason=str(reason or '')))
    # The end of the server's stream; slixmpp does not always go on to
    # 'disconnected' (when a handler of its own failed, say).
    xmpp.add_event_handler('killed', lambda _: finish('disconnected',
                                                      reason='stream ended'))

    host, port = split_addr(args.addr)
    # slixmpp resolves the JID's domain (here also the host) with its default
    # port unless told otherwise, even when given an address.
    xmpp.default_port = port
    if getattr(args, 'tls_name', ''):
        # slixmpp names TLS after the host it dials unless that is an IP
        # address; then after default_domain, which it also resolves: dial
        # the host's address and answer that resolution with it
        ip = socket.gethostbyname(host)

        async def records(domain, port_=None):
            return [(args.tls_name, ip, port)]
        xmpp.get_dns_records = records
        xmpp.default_domain = args.tls_name
        host = ip
    xmpp.connect((host, port), use_ssl=args.direct_tls)
    outcome, fields = await done
    if outcome == 'session':
        emit('session', **fields, **tag)
    else:
        emit('no_session', outcome=outcome, **fields, **tag)
    return outcome


async def ask(event, request):
    """Awaits an iq request and returns its result; on an error or a timeout
    prints an event line (the type, the error's condition and text) and
    returns None."""
    try:
        return await request
    except IqError as e:
        emit(event, type=e.iq['type'], condition=e.condition, text=e.text)
    except IqTimeout:
        emit(event, type='timeout')
    return None


async def logout(xmpp):
    """Closes the stream and waits for the connection to end. A client left
    broken by an earlier failure may fail to; that is logged, not raised: the
    failure that broke it has been reported already."""
    xmpp.cancel_connection_attempt()
    try:
        await asyncio.wait_for(xmpp.disconnect(wait=5), 10)
    except Exception:
        logging.exception('disconnect failed')
        try:
            if xmpp.transport is not None:
                xmpp.transport.abort()
        except Exception:
            logging.exception('abort failed')


def main(run, args):
    """Runs coroutine run(args) within args.timeout; exits 0 when it returns
    true."""
    logging.basicConfig(
        level=logging.DEBUG, stream=sys.stderr,
        format='%(asctime)s %(levelname)s %(name)s: %(message)s')

    async def bounded():
        return await asyncio.wait_for(run(args), args.timeout)

    try:
        ok = asyncio.run(bounded())
    except asyncio.TimeoutError:
        emit('error', error='timed out after %gs' % args.timeout)
        sys.exit(2)
    except Exception as e:  # report, then fail
        logging.exception('script failed')
        emit('error', error='%s: %s' % (type(e).__name__, e))
        sys.exit(1)
    emit('exit', ok=bool(ok))
    sys.exit(0 if ok else 1)
