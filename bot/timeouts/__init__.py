"""How the timeouts audit meets the world: its config section, Slack delivery and rendering,
CLI rendering."""
