"""The seam that plugs a storage backend into the contract suite.

Every backend has a module ``tests/storage/factories/<name>.py`` listed in
``FACTORY_MODULES`` that defines::

    def make_factory(tmp_path: pathlib.Path) -> BackendFactory: ...

``tests/storage/conftest.py`` imports each listed module and runs every test of
``tests/storage/test_contract*.py`` once per backend (test ids end in ``[<name>]``, so
``pytest tests/storage -k memory`` runs one backend). A listed module that cannot be
imported fails the run loudly: a backend is never silently left out.

A factory:

* ``create()`` returns a fresh, opened, empty storage (called once per test);
* ``reopen(storage)`` closes it and opens a new instance on the same data, as a
  restarted server would; a non-durable backend returns the same object and sets
  ``durable = False``, so the suite checks "reopen keeps everything" only where it
  is promised;
* ``cleanup()`` closes whatever ``create``/``reopen`` opened and frees its resources
  (called once after each test, even when it failed).
"""

from __future__ import annotations

from typing import Protocol

from rivetq.storage.base import Storage

__all__ = ["FACTORY_MODULES", "BackendFactory"]

FACTORY_MODULES = ["memory", "local", "postgres"]


class BackendFactory(Protocol):
    name: str
    durable: bool

    async def create(self) -> Storage: ...

    async def reopen(self, storage: Storage) -> Storage: ...

    async def cleanup(self) -> None: ...
