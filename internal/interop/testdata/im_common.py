"""IM plumbing shared by the im_*.py scripts run by im_test.go.

Each client's stanzas of interest are printed as JSON lines (see emit in
slixhelper.py) and kept in an Inbox, which a script awaits with a predicate:
no sleeps, every wait is for something the server sends, bounded by WAIT.
"""

import asyncio

from slixhelper import emit, login

WAIT = 15  # seconds for any one thing the server should send


class Missing(Exception):
    """Something a client waited for did not arrive within WAIT."""


class Inbox:
    """What one client received of one kind, in order; waits for an item
    matching a predicate."""

    def __init__(self, who, kind):
        self.who, self.kind = who, kind
        self.items = []
        self._changed = asyncio.Event()

    def put(self, item):
        self.items.append(item)
        self._changed.set()

    async def wait(self, pred, what, start=0):
        """Returns the first item from index start on for which pred is
        true, waiting for it up to WAIT seconds; raises Missing otherwise."""
        async def scan():
            i = start
            while True:
                for i in range(i, len(self.items)):
                    if pred(self.items[i]):
                        return self.items[i]
                i = len(self.items)
                self._changed.clear()
                await self._changed.wait()
        try:
            return await asyncio.wait_for(scan(), WAIT)
        except asyncio.TimeoutError:
            raise Missing('%s saw no %s within %ds: %s'
                          % (self.who, self.kind, WAIT, what)) from None


def message_fields(msg):
    """What a message observation reports: addressing, body, any XEP-0203
    delay (the client needs plugin xep_0203) and an error's condition."""
    fields = {'type': msg['type'], 'id': msg['id'], 'body': msg['body'],
              'from': str(msg['from']), 'to': str(msg['to'])}
    if msg.xml.find('{urn:xmpp:delay}delay') is not None:
        stamp = msg['delay']['stamp']
        fields['stamp'] = stamp.isoformat() if stamp else ''
        fields['delay_from'] = str(msg['delay']['from'])
    if msg['type'] == 'error':
        fields['condition'] = msg['error']['condition']
    return fields


class Client:
    """A slixmpp client with inboxes for messages (errors included),
    presence and roster pushes, each printed as it arrives."""

    def __init__(self, xmpp, who):
        self.xmpp, self.who = xmpp, who
        xmpp.register_plugin('xep_0203')  # for message_fields
        self.messages = Inbox(who, 'message')
        self.presences = Inbox(who, 'presence')
        self.pushes = Inbox(who, 'roster push')
        xmpp.add_event_handler('message', self._on_message)
        xmpp.add_event_handler('message_error', self._record)
        xmpp.add_event_handler('presence', self._on_presence)
        xmpp.add_event_handler('roster_update', self._on_roster)

    def _on_message(self, msg):
        # An error with a <body/> fires both 'message' and 'message_error':
        # errors are kept once, from 'message_error'.
        if msg['type'] == 'error':
            return
        self._record(msg)

    def _record(self, msg):
        fields = message_fields(msg)
        emit('message', who=self.who, **fields)
        self.messages.put(fields)

    def _on_presence(self, pres):
        fields = {'type': pres['type'], 'from': str(pres['from']),
                  'to': str(pres['to'])}
        emit('presence', who=self.who, **fields)
        self.presences.put(fields)

    def _on_roster(self, iq):
        # Results of our own roster gets come here too; only pushes count.
        if iq['type'] != 'set':
            return
        for jid, item in iq['roster']['items'].items():
            fields = {'jid': str(jid), 'subscription': item['subscription'],
                      'ask': item['ask'], 'name': item['name'],
                      'groups': sorted(item['groups']),
                      'ver': iq['roster']['ver'] or ''}
            emit('roster_push', who=self.who, **fields)
            self.pushes.put(fields)

    async def online(self, args):
        """Logs in, gets the roster (which makes this an interested resource,
        RFC 6121 section 2.1.6) and sends initial presence. Returns whether
        a session started."""
        if await login(self.xmpp, args, self.who) != 'session':
            return False
        await self.xmpp.get_roster(timeout=WAIT)
        self.xmpp.send_presence()
        await self.barrier()
        return True

    async def barrier(self):
        """A ping round trip to the server: it handles a stream's stanzas in
        order (RFC 6120 section 10.1), so everything sent before has been
        handled once the answer is back."""
        await self.xmpp['xep_0199'].send_ping(self.xmpp.boundjid.domain,
                                              timeout=WAIT)

    def report_roster(self):
        """Prints the client's roster as it stands, one line per item."""
        roster = self.xmpp.client_roster
        for jid in sorted(roster.keys()):
            if jid == self.xmpp.boundjid.bare:
                continue  # slixmpp's entry for the user's own resources
            item = roster[jid]
            emit('roster', who=self.who, jid=str(jid),
                 subscription=item['subscription'],
                 ask='subscribe' if item['pending_out'] else '',
                 name=item['name'], groups=sorted(item['groups']))


def is_from(bare, type_):
    """A predicate on presence or message fields: from bare (any
    resource) with the given type."""
    def pred(fields):
        return fields['from'].split('/')[0] == bare and fields['type'] == type_
    return pred


def muc_codes(pres):
    """The status codes of a MUC presence (XEP-0045 muc#user), sorted."""
    return sorted(int(s.get('code')) for s in
                  pres.xml.findall('{http://jabber.org/protocol/muc#user}x/'
                                   '{http://jabber.org/protocol/muc#user}status'))


async def join_room(client, room, nick):
    """Joins room as nick without history (the client needs plugin
    xep_0045), prints "joined" with the status codes of its own presence
    and returns them."""
    own, _, _, _ = await client.xmpp['xep_0045'].join_muc_wait(room, nick, maxstanzas=0, timeout=WAIT)
    codes = muc_codes(own)
    emit('joined', who=client.who, body=' '.join(map(str, codes)))
    return codes
