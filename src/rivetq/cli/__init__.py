"""Command-line tools: ``rivetqd`` (the server) and ``rivetqctl`` (the client)."""
