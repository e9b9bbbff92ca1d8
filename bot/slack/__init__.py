"""Slack front end: Bolt listeners, payload parsing, Block Kit rendering and the one sender."""
