"""Group chat (XEP-0045) with slixmpp's xep_0045 plugin, and invitations
(XEP-0249), history on join (XEP-0203 delay) and the room archive (XEP-0313
on the room JID) with its plugins.

alice creates the room (status 201), fetches the configuration form and
submits it with the room made persistent and public; bob joins; alice's
messages reach bob with a stanza-id by the room; bob leaves and joins again
asking for two messages of history; alice pages through the room archive;
alice pings bob through the room and reads his vCard through it; bob
registers a nick with the room and reads it back (x-roomuser-item); alice
makes bob a visitor, he requests voice, alice approves the form she gets
and bob is a participant again; alice kicks bob (307), invites him back
(mediated), bans him (301) and his next join is refused with forbidden;
alice destroys the room.

Prints "joined" (who, codes), "message" (who, body), "history" (bodies),
"archived" (body), "pinged", "vcard" (fn, from), "registered" (nick),
"voice_request" (nick), "voice" (role), "kicked"/"banned" (who, code),
"invite" (from), "refused" (condition), and "mismatch" for anything
unexpected.
"""

import asyncio
import contextlib
import sys

from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath
from slixhelper import Checks, emit, logout, main, new_client, parser
from im_common import WAIT, Client, join_room, muc_codes

PLUGINS = ['xep_0199', 'xep_0045', 'xep_0249', 'xep_0313', 'xep_0004', 'xep_0359', 'xep_0054', 'xep_0077', 'xep_0030']


async def run(args):
    alice = Client(new_client(args, args.alice, args.password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.password, plugins=PLUGINS), 'bob')
    room = args.room
    check = Checks()

    try:
        for c in (alice, bob):
            if not await c.online(args):
                return False
        muc_a, muc_b = alice.xmpp['xep_0045'], bob.xmpp['xep_0045']

        own = await join_room(alice, room, 'Alice')
        check('creator status codes', 201 in own and 110 in own, True)
        form = await muc_a.get_room_config(room, timeout=WAIT)
        fields = form.get_fields()
        check('persistent field offered', 'muc#roomconfig_persistentroom' in fields, True)
        submit = alice.xmpp['xep_0004'].make_form(ftype='submit')
        submit.add_field(var='FORM_TYPE', value='http://jabber.org/protocol/muc#roomconfig')
        submit.add_field(var='muc#roomconfig_persistentroom', ftype='boolean', value=True)
        submit.add_field(var='muc#roomconfig_publicroom', ftype='boolean', value=True)
        await muc_a.set_room_config(room, submit, timeout=WAIT)

        await join_room(bob, room, 'Bob')
        for body in args.bodies:
            alice.xmpp.send_message(mto=room, mbody=body, mtype='groupchat')
            await bob.messages.wait(lambda f, b=body: f['body'] == b and f['type'] == 'groupchat', body)

        # bob's stream is handled in order: the leave before the join
        muc_b.leave_muc(room, 'Bob')
        # slixmpp 1.8.3 prints each history delay on stdout: kept off ours
        with contextlib.redirect_stdout(sys.stderr):
            _, _, _, history = await muc_b.join_muc_wait(room, 'Bob', maxstanzas=2, timeout=WAIT)
        emit('history', who='bob', body='|'.join(m['body'] for m in history))
        check('history bodies', [m['body'] for m in history], args.bodies[-2:])

        archived = []
        async for page in alice.xmpp['xep_0313'].retrieve(jid=room, iterator=True, rsm={'max': 2}, timeout=WAIT):
            for msg in page['mam']['results']:
                archived.append(msg['mam_result']['forwarded']['stanza']['body'])
        for b in archived:
            emit('archived', who='alice', body=b)
        check('archive', archived, args.bodies)

        # iqs to an occupant: alice's ping reaches bob's client through the
        # room (slixmpp answers it); bob's vCard is answered for his account
        await alice.xmpp['xep_0199'].ping(jid=room + '/Bob', timeout=WAIT)
        emit('pinged', who='alice', jid=room + '/Bob')
        vcard = bob.xmpp['xep_0054'].make_vcard()
        vcard['FN'] = args.fn
        await bob.xmpp['xep_0054'].publish_vcard(vcard, timeout=WAIT)
        iq = await alice.xmpp['xep_0054'].get_vcard(room + '/Bob', cached=False, timeout=WAIT)
        emit('vcard', who='alice', fn=iq['vcard_temp']['FN'], **{'from': str(iq['from'])})
        check('occupant vCard', (iq['vcard_temp']['FN'], str(iq['from'])), (args.fn, room + '/Bob'))

        # registering with the room reserves a nick (XEP-0045 section 7.10)
        reg = await bob.xmpp['xep_0077'].get_registration(jid=room, timeout=WAIT)
        check('registration form', 'muc#register_roomnick' in reg['register']['form'].get_fields(), True)
        iq = bob.xmpp.make_iq_set(ito=room)
        form = iq['register']['form']
        form['type'] = 'submit'
        form.add_field(var='FORM_TYPE', value='http://jabber.org/protocol/muc#register')
        form.add_field(var='muc#register_roomnick', value=args.reserve)
        await iq.send(timeout=WAIT)
        info = await bob.xmpp['xep_0030'].get_info(jid=room, node='x-roomuser-item', cached=False, timeout=WAIT)
        names = [i[3] for i in info['disco_info']['identities']]
        emit('registered', who='bob', body=' '.join(names))
        check('reserved nick', names, [args.reserve])

        # voice (sections 7.13, 8.6): alice makes bob a visitor, bob asks
        # for voice with xep_0045's request_voice, alice submits the
        # approval form she gets, and bob is a participant again
        asked = alice.xmpp.loop.create_future()

        def on_form(m):
            f = m['form']
            if f['type'] == 'form' and not asked.done():
                asked.set_result(f.get_values())
        alice.xmpp.register_handler(Callback('voice request', MatchXPath(
            '{jabber:client}message/{jabber:x:data}x'), on_form))
        await muc_a.set_role(room, 'Bob', 'visitor', timeout=WAIT)
        granted = bob.xmpp.loop.create_future()

        def on_role(p):
            if str(p['from']) == room + '/Bob' and p['muc']['role'] == 'participant' and not granted.done():
                granted.set_result(p['muc']['role'])
        bob.xmpp.add_event_handler('muc::%s::presence' % room, on_role)
        muc_b.request_voice(room, 'participant')
        values = await asyncio.wait_for(asked, WAIT)
        emit('voice_request', who='alice', body=str(values.get('muc#roomnick')))
        check('voice request nick', values.get('muc#roomnick'), 'Bob')
        answer = alice.xmpp.make_message(mto=room)
        form = answer['form']
        form['type'] = 'submit'
        form.add_field(var='FORM_TYPE', value='http://jabber.org/protocol/muc#request')
        form.add_field(var='muc#role', value='participant')
        form.add_field(var='muc#jid', value=str(values.get('muc#jid')))
        form.add_field(var='muc#roomnick', value='Bob')
        form.add_field(var='muc#request_allow', ftype='boolean', value=True)
        answer.send()
        got = await asyncio.wait_for(granted, WAIT)
        emit('voice', who='bob', body=got)

        kicked = bob.xmpp.loop.create_future()

        def on_presence(p):
            if p['type'] == 'unavailable' and str(p['from']) == room + '/Bob' and not kicked.done():
                kicked.set_result(muc_codes(p))
        bob.xmpp.add_event_handler('muc::%s::presence' % room, on_presence)
        await muc_a.set_role(room, 'Bob', 'none', reason='bye', timeout=WAIT)
        got = await asyncio.wait_for(kicked, WAIT)
        emit('kicked', who='bob', body=' '.join(map(str, got)))
        check('kick codes', 307 in got, True)

        invited = bob.xmpp.loop.create_future()

        def on_message(m):
            # xep_0045 drops invitations from a room it thinks it is in
            # (a kick does not tell it otherwise): read the element itself
            inv = m.xml.find('{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}invite')
            if inv is not None and not invited.done():
                invited.set_result(inv.get('from'))
        bob.xmpp.register_handler(Callback('raw invite', MatchXPath(
            '{jabber:client}message/{http://jabber.org/protocol/muc#user}x'), on_message))
        muc_a.invite(room, bob.xmpp.boundjid.bare, reason='come back')
        got = await asyncio.wait_for(invited, WAIT)
        emit('invite', who='bob', **{'from': got})
        check('inviter', got, alice.xmpp.boundjid.bare)

        await muc_a.set_affiliation(room, 'outcast', jid=bob.xmpp.boundjid.bare, timeout=WAIT)
        # by hand: xep_0045 still counts bob in the room since the kick
        refused = bob.xmpp.loop.create_future()

        def on_error(p):
            if str(p['from']) == room + '/Bob' and not refused.done():
                refused.set_result(p['error']['condition'])
        bob.xmpp.register_handler(Callback('join error', MatchXPath(
            '{jabber:client}presence/{jabber:client}error'), on_error))
        join = bob.xmpp.make_presence(pto=room + '/Bob')
        join.enable('muc_join')
        join.send()
        got = await asyncio.wait_for(refused, WAIT)
        emit('refused', who='bob', condition=got)
        check('banned join', got, 'forbidden')

        await muc_a.destroy(room, reason='done', timeout=WAIT)
        return check.ok
    finally:
        await asyncio.gather(logout(bob.xmpp), logout(alice.xmpp))


if __name__ == '__main__':
    p = parser(__doc__)
    p.add_argument('--alice', required=True)
    p.add_argument('--bob', required=True)
    p.add_argument('--password', required=True)
    p.add_argument('--room', required=True)
    p.add_argument('--fn', required=True, help="bob's vCard FN, read through the room")
    p.add_argument('--reserve', required=True, help='the nick bob registers with the room')
    p.add_argument('--bodies', nargs='+', required=True)
    main(run, p.parse_args())
