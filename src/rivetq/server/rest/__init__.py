"""The REST edge: thin handlers over ``QueueService``, routes by noun."""
