"""Group chat (XEP-0045) with Debian's aioxmpp (aioxmpp.muc), a second
client stack beside slixmpp's xep_0045 (muc.py).

alice joins a new room (status 201), reads its configuration form through
aioxmpp.muc.ConfigurationForm, names it and makes it persistent and public,
and sets its subject; the room's disco#info shows the name. bob joins and
sees the subject and alice among the members; alice sees him join. They
chat both ways. bob leaves and joins again asking for two messages of
history: he gets the last two (his own reply among them), delayed (XEP-0203), then the subject (which
is how aioxmpp knows the replay is over). bob changes his nick and alice
sees the change (303). alice kicks bob (307), invites him back (mediated,
which aioxmpp reports as such), he joins again, she bans him
by his real JID (301, which aioxmpp reads from the room's presence) and his
next join is refused with forbidden. alice leaves.

Prints "joined" (who, body: status codes), "subject" (who, body, from),
"room_name" (name), "member" (who, body: nick seen joining), "message"
(who, from, body), "history" (who, body, stamp), "nick" (who, body:
"old>new"), "invite" (who, from, to, type, body), "exit" events as "left" (who, type: leave mode, body: status
codes), "refused" (condition) and "mismatch" for anything unexpected.
"""

import asyncio

import aioxmpp
import aioxmpp.disco
import aioxmpp.im
import aioxmpp.muc
import aioxmpp.muc.xso

from aiox import Checks, emit, parser, peer, security, serve

WAIT = 15


class Watcher:
    """One user's aioxmpp client and what its room reports."""

    def __init__(self, args, jid, who):
        self.who = who
        self.client = aioxmpp.PresenceManagedClient(
            aioxmpp.JID.fromstr(jid), security(args.password), override_peer=peer(args))
        self.muc = self.client.summon(aioxmpp.MUCClient)
        self.disco = self.client.summon(aioxmpp.DiscoClient)
        self.events = asyncio.Queue()
        self.room = None

    async def join(self, room_jid, nick, history=None):
        """Joins and returns the room's status codes on the self-presence."""
        room, fut = self.muc.join(room_jid, nick, history=history, autorejoin=False)
        codes = []
        if room is not self.room:
            self.room = room
            room.on_muc_enter.connect(lambda _p, _o, muc_status_codes=(), **kw: codes.extend(muc_status_codes))
            room.on_message.connect(self._message)
            room.on_topic_changed.connect(self._topic)
            room.on_join.connect(lambda m, **kw: self._put('member', m.nick))
            room.on_nick_changed.connect(lambda m, old, new, **kw: self._put('nick', '%s>%s' % (old, new)))
            room.on_exit.connect(self._exit)
        await asyncio.wait_for(fut, WAIT)
        body = ' '.join(str(int(c.value if hasattr(c, 'value') else c)) for c in sorted(codes, key=lambda c: int(c.value if hasattr(c, 'value') else c)))
        emit('joined', who=self.who, body=body)
        return body.split()

    def _put(self, kind, value):
        if kind != 'message':
            emit(kind, who=self.who, body=value)
        self.events.put_nowait((kind, value))

    def _message(self, msg, member, source, **kw):
        body = msg.body.any() if msg.body else ''
        delay = msg.xep0203_delay
        if delay:
            stamp = delay[0].stamp if isinstance(delay, list) else delay.stamp
            emit('history', who=self.who, body=body, stamp=stamp.isoformat())
            self.events.put_nowait(('history', body))
            return
        emit('message', who=self.who, body=body, **{'from': str(msg.from_)})
        self.events.put_nowait(('message', (str(msg.from_), body)))

    def _topic(self, member, subject, muc_nick=None, **kw):
        text = subject.any() if subject else ''
        emit('subject', who=self.who, body=text, **{'from': muc_nick or ''})
        self.events.put_nowait(('subject', text))

    def _exit(self, muc_leave_mode=None, muc_status_codes=(), **kw):
        codes = ' '.join(sorted(str(int(c.value if hasattr(c, 'value') else c)) for c in muc_status_codes))
        mode = muc_leave_mode.name if muc_leave_mode else ''
        emit('left', who=self.who, type=mode, body=codes)
        self.events.put_nowait(('left', mode))

    async def wait(self, kind, match=lambda v: True):
        """Waits for an event of kind whose value matches, skipping others."""
        async def loop():
            while True:
                k, v = await self.events.get()
                if k == kind and match(v):
                    return v
        return await asyncio.wait_for(loop(), WAIT)


async def run(args):
    check = Checks()

    room_jid = aioxmpp.JID.fromstr(args.room)
    alice = Watcher(args, args.alice, 'alice')
    bob = Watcher(args, args.bob, 'bob')
    async with alice.client.connected(), bob.client.connected():
        codes = await alice.join(room_jid, 'Alice', history=aioxmpp.muc.xso.History(maxstanzas=0))
        check('creator status codes', '201' in codes and '110' in codes, True)

        form = aioxmpp.muc.ConfigurationForm.from_xso(await alice.muc.get_room_config(room_jid))
        form.roomname.value = args.name
        form.persistentroom.value = True
        form.publicroom.value = True
        await alice.muc.set_room_config(room_jid, form.render_reply())
        info = await alice.disco.query_info(room_jid, require_fresh=True)
        names = [i.name for i in info.identities if i.category == 'conference']
        emit('room_name', who='alice', name=names[0] if names else '')
        check('room name in disco#info', names, [args.name])

        await alice.room.set_topic({None: args.subject})
        check('alice sees her subject', await alice.wait('subject', lambda v: v == args.subject), args.subject)

        await bob.join(room_jid, 'Bob', history=aioxmpp.muc.xso.History(maxstanzas=0))
        check('bob sees the subject on join', await bob.wait('subject'), args.subject)
        check('bob sees alice', sorted(m.nick for m in bob.room.members), ['Alice', 'Bob'])
        await alice.wait('member', lambda n: n == 'Bob')

        for body in args.bodies:
            msg = aioxmpp.Message(to=room_jid, type_=aioxmpp.MessageType.GROUPCHAT)
            msg.body[None] = body
            await alice.client.send(msg)
            got = await bob.wait('message', lambda v, b=body: v[1] == b)
            check('sender of ' + body, got[0], args.room + '/Alice')
        reply = aioxmpp.Message(to=room_jid, type_=aioxmpp.MessageType.GROUPCHAT)
        reply.body[None] = 'reply from bob'
        await bob.client.send(reply)
        got = await alice.wait('message', lambda v: v[1] == 'reply from bob')
        check('sender of the reply', got[0], args.room + '/Bob')

        await bob.room.leave()
        history = []
        rejoin = asyncio.ensure_future(bob.join(room_jid, 'Bob', history=aioxmpp.muc.xso.History(maxstanzas=2)))

        async def replay():
            while True:
                k, v = await bob.events.get()
                if k == 'history':
                    history.append(v)
                elif k == 'subject':
                    return v
        check('subject after history', await asyncio.wait_for(replay(), WAIT), args.subject)
        await rejoin
        check('history bodies', history, (args.bodies + ['reply from bob'])[-2:])

        await bob.room.set_nick('Robert')
        check('bob sees his nick change', await bob.wait('nick'), 'Bob>Robert')
        check('alice sees the nick change', await alice.wait('nick'), 'Bob>Robert')
        check('members after the nick change', sorted(m.nick for m in alice.room.members), ['Alice', 'Robert'])

        member = next(m for m in alice.room.members if m.nick == 'Robert')
        await alice.room.kick(member, reason='cool down')
        check('kick as bob sees it', await bob.wait('left'), 'KICKED')

        # a mediated invitation (section 7.8.2) back into the room, through
        # MUCClient.on_muc_invitation
        invited = asyncio.get_running_loop().create_future()

        def on_invite(stanza, muc_address, inviter_address, mode, *, reason=None, **kw):
            if not invited.done():
                invited.set_result((str(muc_address), str(inviter_address.bare()) if inviter_address else '', mode.name, reason or ''))
        bob.muc.on_muc_invitation.connect(on_invite)
        await alice.room.invite(bob.client.local_jid.bare(), 'come back', mode=aioxmpp.im.InviteMode.MEDIATED)
        got = await asyncio.wait_for(invited, WAIT)
        emit('invite', who='bob', to=got[0], type=got[2], body=got[3], **{'from': got[1]})
        check('mediated invitation', got, (args.room, args.alice.split('/')[0], 'MEDIATED', 'come back'))

        await bob.join(room_jid, 'Bob', history=aioxmpp.muc.xso.History(maxstanzas=0))
        await alice.wait('member', lambda n: n == 'Bob')
        member = next(m for m in alice.room.members if m.nick == 'Bob')
        check('bob\'s real JID as the owner sees it', str(member.direct_jid.bare()) if member.direct_jid else '', args.bob.split('/')[0])
        await alice.room.ban(member, reason='gone')
        check('ban as bob sees it', await bob.wait('left'), 'BANNED')

        room, fut = bob.muc.join(room_jid, 'Bob', autorejoin=False)
        try:
            await asyncio.wait_for(fut, WAIT)
            emit('refused', who='bob', condition='')
            check('banned join refused', 'joined', 'forbidden')
        except aioxmpp.errors.XMPPError as e:
            cond = e.condition.value[1] if hasattr(e.condition, 'value') else str(e.condition)
            emit('refused', who='bob', condition=cond)
            check('banned join refused', cond, 'forbidden')

        await alice.room.leave()
        check('alice left', await alice.wait('left'), 'NORMAL')
    return check.ok


def main():
    p = parser(__doc__)
    p.add_argument('--alice', required=True)
    p.add_argument('--bob', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--room', required=True)
    p.add_argument('--name', required=True, help='the room name alice configures')
    p.add_argument('--subject', required=True)
    p.add_argument('--bodies', nargs='+', required=True)
    serve(run, p.parse_args())


if __name__ == '__main__':
    main()
