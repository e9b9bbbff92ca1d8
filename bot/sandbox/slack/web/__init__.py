"""A browser face on the Slack emulator: a small Slack workspace for `meshbot demo`.

Why this exists: trying meshbot should not need a Slack workspace, an app install and
a cluster. ``WebFace`` serves, from the emulator's own HTTP server, a page with the
workspace's channels and threads, messages rendered from their Block Kit, live updates
over server-sent events, a composer for ``/mesh …`` and a user switcher; what a person
types or clicks reaches the app as Slack's signed requests (relay.py). No build step:
server-rendered HTML, one plain script and one stylesheet shipped as package data.

    emulator = SlackEmulator(...)
    emulator.web = WebFace(emulator, personas=[Persona("U1", "Alice", "operator")])
    emulator.start()
    emulator.web.relay.request_url = "http://127.0.0.1:3000/slack/events"
"""

from bot.sandbox.slack.web.face import WebFace
from bot.sandbox.slack.web.page import CommandHint, Persona

__all__ = ["CommandHint", "Persona", "WebFace"]
