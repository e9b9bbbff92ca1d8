"""`mtls`: effective PeerAuthentication modes, plaintext traffic, and the PERMISSIVE → STRICT
migration as changes."""
