"""Storage backends behind one protocol (``rivetq.storage.base.Storage``)."""
