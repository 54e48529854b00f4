"""PEP (XEP-0163) with Debian's aioxmpp, a second client stack beside
slixmpp (pep.py): aioxmpp.pep, aioxmpp.pubsub and aioxmpp.avatar.

alice and bob are mutual contacts (the test sets up the rosters). bob's
client claims the XEP-0172 nickname node with +notify and runs aioxmpp's
avatar service (which claims urn:xmpp:avatar:metadata with +notify); both
reach the server through his entity capabilities (XEP-0115), which the
server resolves with a disco#info query that aioxmpp answers.

1. bob logs in first; alice logs in and waits for his presence.
2. alice checks that her account is a PEP service, publishes her nickname
   through PEPClient.publish and a PNG avatar through
   AvatarService.publish_avatar_set (data node, then metadata node).
3. bob gets the nickname notification and the avatar metadata change
   (either as a notification or as the last item, whichever the server's
   caps resolution gives first), then reads alice's nickname node with
   PubSubClient.get_items and fetches the avatar bytes from her data node;
   they must match what alice published.
4. On the pubsub service, alice creates a node with PubSubClient.create,
   bob subscribes, alice publishes a note without an id and bob gets the
   notification with the id the service assigned.

Prints "pep_available", "pep" (who, from, node, id, body: the nickname),
"avatar" (who, from, id), "nick_items" (items: the nicknames read back),
"avatar_bytes" (body: "match" or the mismatch), "pubsub" (who, from,
node, id, body: the note) and "mismatch".
"""

import asyncio
import hashlib
import struct
import zlib

import aioxmpp
import aioxmpp.avatar
import aioxmpp.entitycaps
import aioxmpp.pep
import aioxmpp.pubsub
import aioxmpp.pubsub.xso
import aioxmpp.xso as xso

from aiox import Checks, emit, parser, peer, security, serve

WAIT = 15
NS_NICK = 'http://jabber.org/protocol/nick'
NS_AVATAR_META = 'urn:xmpp:avatar:metadata'


@aioxmpp.pubsub.xso.as_payload_class
class Nick(xso.XSO):
    """XEP-0172's <nick/>: aioxmpp 0.13 has no class of its own for it."""
    TAG = (NS_NICK, 'nick')
    text = xso.Text(default='')

    def __init__(self, text=''):
        super().__init__()
        self.text = text


@aioxmpp.pubsub.xso.as_payload_class
class Note(xso.XSO):
    """A payload of our own for the pubsub service's node."""
    TAG = ('urn:example:aiox', 'note')
    text = xso.Text(default='')

    def __init__(self, text=''):
        super().__init__()
        self.text = text


def png(width, height):
    """A valid RGB PNG of one colour, made here to need no image file."""
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data +
                struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
    rows = b''.join(b'\x00' + b'\xd2\x69\x1e' * width for _ in range(height))
    return (b'\x89PNG\r\n\x1a\n' +
            chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))


class User:
    def __init__(self, args, jid, password, who):
        self.who = who
        self.client = aioxmpp.PresenceManagedClient(
            aioxmpp.JID.fromstr(jid), security(password), override_peer=peer(args))
        self.client.summon(aioxmpp.EntityCapsService)
        self.pep = self.client.summon(aioxmpp.PEPClient)
        self.pubsub = self.client.summon(aioxmpp.PubSubClient)
        self.avatar = self.client.summon(aioxmpp.avatar.AvatarService)
        self.presence = self.client.summon(aioxmpp.PresenceClient)
        self.events = asyncio.Queue()
        self.nick_node = self.pep.claim_pep_node(NS_NICK, notify=True)
        self.nick_node.on_item_publish.connect(self._nick)
        self.avatar.on_metadata_changed.connect(self._avatar)
        self.pubsub.on_item_published.connect(self._published)

    def _published(self, jid, node, item, **kw):
        # PEP notifications come this way too: only the service's are kept
        if jid.localpart is None and isinstance(item.registered_payload, Note):
            emit('pubsub', who=self.who, node=node, id=item.id_ or '',
                 body=item.registered_payload.text, **{'from': str(jid)})
            self.events.put_nowait(('note', str(jid), (item.id_, item.registered_payload.text)))

    def _nick(self, jid, node, item, **kw):
        text = item.registered_payload.text if item.registered_payload else ''
        emit('pep', who=self.who, node=node, id=item.id_ or '', body=text, **{'from': str(jid)})
        self.events.put_nowait(('nick', str(jid), text))

    def _avatar(self, jid, metadata):
        ids = [m.id_ for m in metadata]
        emit('avatar', who=self.who, id=' '.join(ids), node=NS_AVATAR_META, **{'from': str(jid)})
        self.events.put_nowait(('avatar', str(jid), ids))

    async def wait(self, kind, sender):
        async def loop():
            while True:
                k, j, v = await self.events.get()
                if k == kind and j == sender:
                    return v
        return await asyncio.wait_for(loop(), WAIT)


async def run(args):
    check = Checks()

    alice = User(args, args.alice, args.alice_password, 'alice')
    bob = User(args, args.bob, args.bob_password, 'bob')
    alice_bare = str(aioxmpp.JID.fromstr(args.alice).bare())
    async with bob.client.connected():
        seen = asyncio.get_running_loop().create_future()

        def on_available(full_jid, stanza):
            if str(full_jid.bare()) == str(bob.client.local_jid.bare()) and not seen.done():
                seen.set_result(None)
        alice.presence.on_available.connect(on_available)
        async with alice.client.connected():
            await asyncio.wait_for(seen, WAIT)
            available = await alice.pep.available()
            emit('pep_available', who='alice', ok=available)
            check('PEP service on the account', available, True)

            await alice.pep.publish(NS_NICK, Nick(args.nick), id_='current')
            image = png(8, 8)
            avatars = aioxmpp.avatar.AvatarSet()
            avatars.add_avatar_image('image/png', image_bytes=image, width=8, height=8)
            await alice.avatar.publish_avatar_set(avatars)
            sha1 = hashlib.sha1(image).hexdigest()

            check('nickname notification', await bob.wait('nick', alice_bare), args.nick)
            check('avatar metadata ids', await bob.wait('avatar', alice_bare), [sha1])

            items = await bob.pubsub.get_items(aioxmpp.JID.fromstr(alice_bare), NS_NICK)
            nicks = [i.registered_payload.text for i in items.payload.items if i.registered_payload]
            emit('nick_items', who='bob', items=nicks)
            check('nickname node items', nicks, [args.nick])

            meta = await bob.avatar.get_avatar_metadata(aioxmpp.JID.fromstr(alice_bare), require_fresh=True)
            pngs = [m for m in meta if m.mime_type == 'image/png' and m.can_get_image_bytes_via_xmpp]
            got = await pngs[0].get_image_bytes() if pngs else b''
            result = 'match' if got == image else 'got %d bytes, want %d' % (len(got), len(image))
            emit('avatar_bytes', who='bob', body=result)
            check('avatar bytes', result, 'match')

            # the pubsub service (XEP-0060): alice creates a node, bob
            # subscribes, alice publishes and bob gets the notification
            svc = aioxmpp.JID.fromstr(args.service)
            node = await alice.pubsub.create(svc, args.node)
            check('created node', node, args.node)
            await bob.pubsub.subscribe(svc, args.node)
            id_ = await alice.pubsub.publish(svc, args.node, Note(args.nick))
            got = await bob.wait('note', args.service)
            check('notification from the service', got, (id_, args.nick))
    return check.ok


def main():
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--nick', required=True, help="alice's XEP-0172 nickname")
    p.add_argument('--service', required=True, help='the pubsub service')
    p.add_argument('--node', required=True, help='the node alice creates there')
    serve(run, p.parse_args())


if __name__ == '__main__':
    main()
