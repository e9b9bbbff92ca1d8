"""How preflight meets the world: its config section, Slack delivery and rendering, and
CLI rendering."""
