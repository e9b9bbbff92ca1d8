"""What every capability shares: results as data, errors, ports, the registry and parser,
cluster selection and the built-in commands (help, version, status)."""
