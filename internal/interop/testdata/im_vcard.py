"""A vCard published by one user is what another user gets (XEP-0054).

alice and bob log in. alice publishes a vCard with FN, NICKNAME and N/GIVEN
(section 3.2); bob gets alice's vCard by her bare JID (section 3.3), and so
does alice (section 3.1). Before, bob asks for carol's, who has none.

Prints a "vcard" line per retrieval: who asked, of whom, FN, NICKNAME and
N/GIVEN (as "name"), and a "vcard_error" line for carol's.
"""

import asyncio

from slixhelper import IqError, emit, logout, main, new_client, parser
from im_common import WAIT, Client

PLUGINS = ['xep_0199', 'xep_0054']


async def fetch(client, jid):
    iq = await client.xmpp['xep_0054'].get_vcard(jid, cached=False, timeout=WAIT)
    v = iq['vcard_temp']
    nickname = v['NICKNAME']  # slixmpp splits the text at commas
    if isinstance(nickname, list):
        nickname = ','.join(nickname)
    emit('vcard', who=client.who, jid=jid, fn=v['FN'], nickname=nickname,
         name=v['N']['GIVEN'], **{'from': str(iq['from'])})


async def run(args):
    alice = Client(new_client(args, args.alice, args.alice_password, plugins=PLUGINS), 'alice')
    bob = Client(new_client(args, args.bob, args.bob_password, plugins=PLUGINS), 'bob')
    alice_jid = args.alice.split('/')[0]
    try:
        if await asyncio.gather(alice.online(args), bob.online(args)) != [True, True]:
            return False

        try:
            await bob.xmpp['xep_0054'].get_vcard(args.nobody, cached=False, timeout=WAIT)
            emit('vcard_error', who='bob', jid=args.nobody, type='result')
        except IqError as e:
            emit('vcard_error', who='bob', jid=args.nobody, type=e.iq['type'],
                 condition=e.condition)

        vcard = alice.xmpp['xep_0054'].make_vcard()
        vcard['FN'] = args.fn
        vcard['NICKNAME'] = args.nickname
        vcard['N']['GIVEN'] = args.given
        await alice.xmpp['xep_0054'].publish_vcard(vcard, timeout=WAIT)

        await fetch(bob, alice_jid)
        await fetch(alice, alice_jid)
        return True
    finally:
        await asyncio.gather(logout(alice.xmpp), logout(bob.xmpp))


if __name__ == '__main__':
    p = parser(__doc__, users=('alice', 'bob'))
    p.add_argument('--nobody', required=True, help='a bare JID with no vCard')
    p.add_argument('--fn', required=True)
    p.add_argument('--nickname', required=True)
    p.add_argument('--given', required=True)
    main(run, p.parse_args())
