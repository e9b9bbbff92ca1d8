"""How the watchers meet the world: config section, the scheduler and its Redis lease, the
alert store, alert messages with their buttons and charts, CLI rendering."""
