"""XEP-0198 resumption with slixmpp's xep_0198.

alice enables stream management with resumption; bob sends her three
messages ("before"), which she handles. She then stops reading and bob
sends three more ("in flight"): the server writes them, or still holds
them, but alice never handles them. Her TCP connection is then cut without
</stream:stream> (the transport is aborted: slixmpp keeps its SM state, as
on a lost network). The script prints "waiting" and reads a line: the Go
test sends it once the server has detached alice's session (or, with
--expire, ended it). bob sends three more ("away"), and alice reconnects.

By default slixmpp resumes (<resume/>), and alice must then get every
message once, in order: the server resends what her <resume h=…/> does not
cover, then what came while she was away.

With --expire, alice acknowledges the "before" messages before the cut, and
the resumption must fail (<failed/>): slixmpp binds a new session and sends
presence, and the messages she never acknowledged, and those sent while
she was away, must come from offline storage, once each, in order.

Prints "sm_enabled", "sent" (bob's bodies), "message" (what alice got),
"cut", "resumed" or "sm_failed", and "session" for each session.
"""

import asyncio

from slixhelper import emit, logout, main, new_client, parser, split_addr
from im_common import WAIT, Client
from mobile_common import GoAhead, once, within

PLUGINS = ['xep_0199']


async def run(args):
    go = GoAhead()
    alice = Client(new_client(args, args.alice, args.alice_password,
                              plugins=PLUGINS + ['xep_0198']), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    ax = alice.xmpp
    sm = ax['xep_0198']
    try:
        enabled = once(ax, 'sm_enabled')
        if not await alice.online(args):
            return False
        en = await within(enabled, '<enabled/>')
        emit('sm_enabled', who='alice', id=en['id'], ok=bool(en['resume']))
        if not await bob.online(args):
            return False

        def send(body):
            bob.xmpp.make_message(mto=ax.boundjid, mbody=body, mtype='chat').send()
            emit('sent', who='bob', body=body, to=str(ax.boundjid))

        def has(body):
            return lambda m: m['body'] == body

        for i in range(1, 4):
            send('before %d' % i)
        await alice.messages.wait(has('before 3'), 'the third message before the cut')
        if args.expire:
            # Acknowledge all she handled: the server must not send those
            # again once the session ends.
            sm.send_ack()
            await alice.barrier()

        ax.transport.pause_reading()
        for i in range(1, 4):
            send('in flight %d' % i)
        await bob.barrier()

        lost = once(ax, 'disconnected')
        ax.transport.abort()  # no </stream:stream>, no TLS close_notify
        await within(lost, 'disconnected event')
        emit('cut', who='alice', id=sm.sm_id or '', ok=sm.sm_id is not None)

        await go.wait('the server to detach (or expire) the session')
        for i in range(1, 4):
            send('away %d' % i)
        await bob.barrier()

        resumed = once(ax, 'session_resumed')
        failed = once(ax, 'sm_failed')
        started = once(ax, 'session_start')
        host, port = split_addr(args.addr)
        ax.connect((host, port))
        done, _ = await asyncio.wait([resumed, failed], timeout=WAIT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if args.expire:
            if failed not in done:
                emit('mismatch', what='resumption of an expired session',
                     want='<failed/>',
                     got='<resumed/>' if resumed in done else 'nothing')
                return False
            conditions = [c.tag.split('}')[-1] for c in failed.result().xml]
            emit('sm_failed', who='alice', condition=' '.join(conditions))
            await within(started, 'a new session after <failed/>')
            emit('session', who='alice', jid=str(ax.boundjid))
            await ax.get_roster(timeout=WAIT)
            ax.send_presence()  # offline messages come now
        else:
            if resumed not in done:
                emit('mismatch', what='resumption', want='<resumed/>',
                     got='<failed/>' if failed in done else 'nothing')
                return False
            emit('resumed', who='alice', ok=True)
        await alice.messages.wait(has('away 3'), 'the last message sent while away')
        # A duplicate, if any, would come before the answer to this.
        await alice.barrier()
        return True
    finally:
        await asyncio.gather(logout(bob.xmpp), logout(ax))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--expire', action='store_true',
                   help='the session expires before alice comes back')
    main(run, p.parse_args())
