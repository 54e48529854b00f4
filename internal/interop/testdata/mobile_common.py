"""Plumbing shared by the mobile_*.py scripts run by mobile_test.go.

Those scripts are driven: at a few points they print a JSON line and wait
for the Go test to write one line on their stdin ("go") once it has seen
what it waits for on the server's side (a counter in env.Srv.Stats()).
"""

import asyncio
import sys

from slixhelper import emit
from im_common import WAIT

__all__ = ['GoAhead', 'once', 'within']


class GoAhead:
    """The lines the Go test writes on stdin, read without blocking the
    event loop."""

    def __init__(self):
        self._reader = None

    async def wait(self, what):
        """Prints "waiting" with what, then waits for the next line."""
        if self._reader is None:
            loop = asyncio.get_running_loop()
            self._reader = asyncio.StreamReader()
            await loop.connect_read_pipe(
                lambda: asyncio.StreamReaderProtocol(self._reader), sys.stdin)
        emit('waiting', what=what)
        line = await self._reader.readline()
        if not line:
            raise EOFError('stdin closed while waiting: ' + what)
        return line.decode().strip()


def once(xmpp, event):
    """A future set with the first argument of xmpp's next event."""
    fut = asyncio.get_running_loop().create_future()

    def handler(arg):
        if not fut.done():
            fut.set_result(arg)

    xmpp.add_event_handler(event, handler, disposable=True)
    return fut


async def within(fut, what):
    """Awaits fut for up to WAIT seconds."""
    try:
        return await asyncio.wait_for(fut, WAIT)
    except asyncio.TimeoutError:
        raise TimeoutError('no %s within %ds' % (what, WAIT)) from None
