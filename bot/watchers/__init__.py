"""Scheduled watchers, run by the replica that holds the Redis lease."""
