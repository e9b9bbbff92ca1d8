"""The command line's rendering base: results as terminal text or JSON, and exit statuses.
Each capability registers how its own results look (bot/<capability>/cli.py)."""
