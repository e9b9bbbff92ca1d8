"""The staged install's edges: its config section, Slack plan message, CLI, wiring."""
