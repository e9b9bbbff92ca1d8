"""The top of the edge: the config root, the runtime wiring, the `meshbot` entry point,
`serve`, health and logs. The only package that knows every capability."""
