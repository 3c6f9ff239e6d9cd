"""The RivetQ server: settings → storage → QueueManager → REST (and gRPC) edges."""
