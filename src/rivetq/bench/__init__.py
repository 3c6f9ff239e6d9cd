"""Load generator for a running RivetQ server (``python -m rivetq.bench`` / ``rivetq-bench``)."""
