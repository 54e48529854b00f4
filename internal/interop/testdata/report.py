"""What every interop script prints, whichever client library it drives
(slixhelper.py for slixmpp, aiox.py for aioxmpp): each observation as a
JSON line the Go test reads, and the script's own checks."""

import json


def emit(event, **fields):
    """Prints one observation as a JSON line."""
    fields['event'] = event
    print(json.dumps(fields, sort_keys=True), flush=True)


class Checks:
    """A script's own checks: each mismatch is printed, and ok remembers
    whether there was any."""

    def __init__(self):
        self.ok = True

    def __call__(self, what, got, want):
        if got != want:
            self.ok = False
            emit('mismatch', what=what, got=str(got), want=str(want))
