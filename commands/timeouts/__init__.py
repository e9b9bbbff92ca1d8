"""`timeouts`: VirtualService timeouts and retries audited against the apps' own timeouts and
live call paths, and their fixes as changes."""
