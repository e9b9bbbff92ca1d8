"""The pure core of meshbot: commands, their arguments and their results as plain data.

Nothing here does I/O; every outside system is reached through a port in `ports`.
"""
