"""Stand-ins for local use and tests: Slack emulator, Kubernetes API test server, metrics simulator.

Production code never imports this package (an import-linter contract checks it).
"""
