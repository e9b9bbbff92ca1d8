"""The edges of meshbot: config, adapters to outside systems, the Slack and CLI front ends."""
