"""The REST edge: thin handlers over ``QueueManager``, routes by noun."""
