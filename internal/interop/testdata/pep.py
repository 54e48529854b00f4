"""PEP with slixmpp's own plugins (XEP-0163, XEP-0060, XEP-0084, XEP-0115,
XEP-0048/0049).

alice, bob and carol are mutual contacts (the test sets up the rosters).
bob's client announces, through its entity capabilities, interest in
avatar metadata (the XEP-0084 plugin does that) and in the OMEMO device
list; carol's announces none.

1. alice publishes her OMEMO device list with publish-options
   access_model=open; bob sees it (a notification, or the last item once
   the server resolved his caps).
2. alice publishes avatar metadata; bob sees it, carol sees no pubsub event
   at all (checked after a round trip of hers that follows alice's publish).
3. alice publishes a XEP-0402 bookmark and reads it back through XEP-0049
   private storage (slixmpp's XEP-0048 plugin); then she stores bookmarks
   there and reads them from the XEP-0402 node.

Prints "pep" lines (who, from, node, id), "bookmarks" (conference JIDs in
private storage) and "bookmark_items" (item ids of the node).
"""

import asyncio

from slixmpp import ET

from slixhelper import emit, logout, main, new_client, parser
from im_common import WAIT, Client, Inbox

BASE = ['xep_0199', 'xep_0030', 'xep_0004', 'xep_0115', 'xep_0060', 'xep_0163']
DEVICELIST = 'eu.siacs.conversations.axolotl.devicelist'
AVATAR = 'urn:xmpp:avatar:metadata'
BOOKMARKS = 'urn:xmpp:bookmarks:1'


def watch(client):
    """Records every pubsub event item the client gets."""
    client.pep = Inbox(client.who, 'pep')

    def on_publish(msg):
        # slixmpp fires the event once per item; iterating the items here
        # would reset the iterator it is walking.
        items = msg['pubsub_event']['items']
        fields = {'from': str(msg['from']), 'node': items['node'], 'id': items['item']['id']}
        emit('pep', who=client.who, **fields)
        client.pep.put(fields)
    for ev in ('pubsub_publish', 'avatar_metadata_publish'):
        client.xmpp.add_event_handler(ev, on_publish)


def options(xmpp, fields):
    form = xmpp['xep_0004'].make_form(ftype='submit')
    form.add_field(var='FORM_TYPE', ftype='hidden',
                   value='http://jabber.org/protocol/pubsub#publish-options')
    for var, value in fields.items():
        form.add_field(var=var, value=value)
    return form


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password,
                              plugins=BASE + ['xep_0084', 'xep_0049', 'xep_0048']), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=BASE + ['xep_0084']), 'bob')
    carol = Client(new_client(args, args.carol, args.carol_password, plugins=BASE), 'carol')
    bob.xmpp['xep_0030'].add_feature(DEVICELIST + '+notify')
    for c in (bob, carol):
        watch(c)
    alice_jid = args.alice.split('/')[0]
    try:
        if await asyncio.gather(alice.online(args), bob.online(args), carol.online(args)) != [True, True, True]:
            return False

        devices = ET.Element('{eu.siacs.conversations.axolotl}list')
        ET.SubElement(devices, '{eu.siacs.conversations.axolotl}device', id='1234')
        await alice.xmpp['xep_0060'].publish(None, DEVICELIST, id='current', payload=devices,
                                             options=options(alice.xmpp, {'pubsub#access_model': 'open'}),
                                             timeout=WAIT)
        await bob.pep.wait(lambda e: e['node'] == DEVICELIST and e['from'] == alice_jid, 'the device list')

        await alice.xmpp['xep_0084'].publish_avatar_metadata(
            {'id': 'abc123', 'type': 'image/png', 'bytes': 1024}, timeout=WAIT)
        await bob.pep.wait(lambda e: e['node'] == AVATAR and e['id'] == 'abc123', 'the avatar metadata')
        await carol.barrier()

        conf = ET.Element('{%s}conference' % BOOKMARKS, name='Coven', autojoin='true')
        ET.SubElement(conf, '{%s}nick' % BOOKMARKS).text = 'alice'
        await alice.xmpp['xep_0060'].publish(None, BOOKMARKS, id='coven@chat.example', payload=conf,
                                             options=options(alice.xmpp, {
                                                 'pubsub#persist_items': 'true', 'pubsub#max_items': 'max',
                                                 'pubsub#access_model': 'whitelist',
                                                 'pubsub#send_last_published_item': 'never'}),
                                             timeout=WAIT)
        iq = await alice.xmpp['xep_0048'].get_bookmarks(method='xep_0049', timeout=WAIT)
        emit('bookmarks', who='alice', items=[str(c['jid']) for c in iq['private']['bookmarks']['conferences']])

        from slixmpp.plugins.xep_0048.stanza import Bookmarks
        bm = Bookmarks()
        bm.add_conference('tea@chat.example', 'al', name='Tea', autojoin=False)
        await alice.xmpp['xep_0048'].set_bookmarks(bm, method='xep_0049', timeout=WAIT)
        iq = await alice.xmpp['xep_0060'].get_items(None, BOOKMARKS, timeout=WAIT)
        emit('bookmark_items', who='alice', items=[item['id'] for item in iq['pubsub']['items']])
        return True
    finally:
        await asyncio.gather(logout(alice.xmpp), logout(bob.xmpp), logout(carol.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob', 'carol'))
    main(run, p.parse_args())
