"""How the mTLS capability meets the world: `mtls status` in Slack and on the command line."""
