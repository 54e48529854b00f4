"""XEP-0313 archive queries with slixmpp's xep_0313, paged with RSM.

alice and bob exchange messages, taking turns (alice first, each waiting
for the previous one to arrive). alice then pages through her archive
with <max/> set (slixmpp's iterator follows RSM <last/>) and prints every
archived message.

Prints "sent" (every body, in order, with "who" the sender), "archived"
(index, from, to, type, body, dir "out" when from alice) and
"page" (for each page: "got" results and "ok" when <fin/> says
complete) and "archive_done" (pages).
"""

import asyncio

from slixhelper import emit, logout, main, new_client, parser
from im_common import WAIT, Client

PLUGINS = ['xep_0199', 'xep_0313']


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    alice_bare = args.alice.split('/')[0]
    try:
        for c in (alice, bob):
            if not await c.online(args):
                return False
        for i, body in enumerate(args.bodies):
            src, dst = (alice, bob) if i % 2 == 0 else (bob, alice)
            src.xmpp.make_message(mto=dst.xmpp.boundjid, mbody=body, mtype='chat').send()
            emit('sent', who=src.who, body=body)
            await dst.messages.wait(lambda f, b=body: f['body'] == b, 'message %d' % (i + 1))

        pages = 0
        index = 0
        results = alice.xmpp['xep_0313'].retrieve(
            with_jid=bob.xmpp.boundjid.bare, iterator=True, rsm={'max': args.max},
            timeout=WAIT)
        async for page in results:
            pages += 1
            fin = page['mam_fin']
            emit('page', index=pages, got=str(len(fin['results'])),
                 ok=fin.xml.get('complete') in ('true', '1'))
            for msg in page['mam']['results']:
                inner = msg['mam_result']['forwarded']['stanza']
                emit('archived', index=index, id=msg['mam_result']['id'],
                     **{'from': str(inner['from']), 'to': str(inner['to']),
                        'type': inner['type'], 'body': inner['body'],
                        'dir': 'out' if inner['from'].bare == alice_bare else 'in'})
                index += 1
        emit('archive_done', pages=pages)
        return True
    finally:
        await asyncio.gather(logout(bob.xmpp), logout(alice.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--max', type=int, default=2)
    p.add_argument('--bodies', nargs='+', required=True)
    main(run, p.parse_args())
