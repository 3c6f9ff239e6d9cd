"""Runnable SDK examples: ``python -m examples.producer``, ``python -m examples.worker_example``."""
