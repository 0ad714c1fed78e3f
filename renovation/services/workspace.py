"""One store as every use case sees it: the backend made once from the ``--db`` value, the
configuration, the application and the read models, each made on first use and closed together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from renovation.store import open_backend
from renovation.store.backend import BadDatabaseURL

if TYPE_CHECKING:
    from renovation.projections.runner import ReadModels
    from renovation.services.application import RenovationApp
    from renovation.services.config import Config
    from renovation.store.backend import Backend
    from renovation.store.sqlite import SQLiteBackend


class Workspace:
    def __init__(self, db: str, config_path: str | None = None) -> None:
        self.db = db
        self.config_path = config_path
        self._backend: Backend | None = None
        self._app: RenovationApp | None = None
        self._read_models: ReadModels | None = None
        self._config: Config | None = None
        #: Whether opening the application may create a store where there is none (the CLI allows it
        #: only to the commands that begin one: ``compound register``, ``demo``, ``import``, ``db``).
        self.creates = True
        #: Told how many events the read models are behind when this login may not catch them up.
        self.on_stale: Callable[[int], None] | None = None

    @property
    def backend(self) -> Backend:
        """The store's database (connects to nothing until asked)."""
        if self._backend is None:
            self._backend = open_backend(self.db)
        return self._backend

    @property
    def config(self) -> Config:
        if self._config is None:
            from renovation.services.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def app(self) -> RenovationApp:
        """The application (creates the store's tables if missing)."""
        if self._app is None:
            from renovation.services.application import RenovationApp

            access = self.config.access()  # a bad renovation.toml is said first
            if not self.creates and not self.backend.exists():
                from renovation.services.errors import NoStore

                raise NoStore(f"no store at {self.db}: `renovation demo` builds the demo's, `renovation compound "
                              "register` begins one; or give --db (RENOVATION_DB)")
            self._app = RenovationApp(self.backend, access=access)
        return self._app

    def describe(self) -> str:
        """The store for a person to read: the SQLite file, or PostgreSQL's server, database and
        schema (never a password)."""
        backend, env = self.backend, self.backend.env
        if backend.is_postgres:
            schema = env.get("POSTGRES_SCHEMA") or "public"
            return (f"PostgreSQL {env['POSTGRES_USER']}@{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/"
                    f"{env['POSTGRES_DBNAME']}, schema {schema}")
        return f"SQLite {Path(env['SQLITE_DBNAME']).resolve()}"

    def store_zone(self) -> str | None:
        """The store's time zone: the open application's, else read without opening the store (so
        that parsing a time typed on the command line creates and writes nothing)."""
        if self._app is not None:
            return self._app.zone_name
        from renovation.services.clock import BadTimeZone, zone_named

        name = self.backend.peek_zone()
        try:
            return zone_named(name).key if name else None
        except BadTimeZone:
            return None  # as the application reads it (see CompoundWriter._keep_zone)

    def read_models(self, *names: str) -> ReadModels:
        """The read models, caught up with every event recorded so far (the named ones, or all). A
        login that may not write them (on PostgreSQL after ``db roles --apply``, every login but the
        projector's) reads them as the last catch-up left them; ``on_stale`` hears how far behind."""
        if self._read_models is None:
            from renovation.projections import read_models

            self._read_models = read_models(self.app)
        if self._read_models.writes:
            self._read_models.catch_up(*names)
        else:
            behind = self._read_models.behind(*names)
            if behind and self.on_stale is not None:
                self.on_stale(behind)
        return self._read_models

    def sqlite(self, refusal: str) -> SQLiteBackend:
        """The backend, which must be an SQLite file; otherwise ``refusal`` is the error."""
        from renovation.store.sqlite import SQLiteBackend

        backend = self.backend
        if not isinstance(backend, SQLiteBackend):
            raise BadDatabaseURL(refusal)
        return backend

    def store_files(self) -> list[Path]:
        """The files that make up the store (none for PostgreSQL): never an output's target."""
        from renovation.store.sqlite import SQLiteBackend

        backend = self.backend
        return backend.protected() if isinstance(backend, SQLiteBackend) else []

    def discard(self) -> None:
        """Delete the SQLite file (and its companions); a PostgreSQL store is refused."""
        backend = self.sqlite("--force only deletes an SQLite file; empty a PostgreSQL database yourself")
        self.close()
        backend.discard()

    def close(self) -> None:
        if self._read_models is not None:
            self._read_models.close()
            self._read_models = None
        if self._app is not None:
            self._app.close()  # closes the backend's own connections too
            self._app = None
        elif self._backend is not None:
            self._backend.close()
