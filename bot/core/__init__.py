"""What every front end and capability edge shares: the runtime handle, dispatch with
telemetry, and the ack gate that keeps Slack acknowledgements ahead of work."""
