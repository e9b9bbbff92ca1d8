"""How the change pipeline meets the world: its config section, the proposal messages and
Approve / Reject / Rollback buttons in Slack, its CLI rendering and the sweeper that
expires proposals and runs due bake checks."""
