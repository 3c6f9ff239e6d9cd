"""``rivetqd --workers N``: a supervisor, one storage owner and N front processes.

``supervisor`` starts and watches the processes, ``child`` is their entry point,
``owner`` serves the ``QueueManager`` to the fronts over a Unix socket, ``proxy`` is the
fronts' stand-in for it, ``calls`` and ``frames`` are the protocol between them.
"""
