"""``renovation.toml``: the horse-race weights and who has which role (see ``renovation.access``).

Found in the working directory, or given with ``--config``::

    [ranking.weights]
    quality = 30
    safety = 25
    progress = 20
    civilized = 15
    satisfaction = 10
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from renovation.access import Access

DEFAULT_FILE = "renovation.toml"


class BadConfig(ValueError):
    pass


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    quality: int = Field(30, ge=0, le=100)
    safety: int = Field(25, ge=0, le=100)
    progress: int = Field(20, ge=0, le=100)
    civilized: int = Field(15, ge=0, le=100)
    satisfaction: int = Field(10, ge=0, le=100)

    @model_validator(mode="after")
    def sum_to_100(self) -> Weights:
        total = sum(self.as_dict().values())
        if total != 100:
            raise ValueError(f"the ranking weights must sum to 100, not {total}")
        return self

    def as_dict(self) -> dict[str, int]:
        return {
            "quality": self.quality, "safety": self.safety, "progress": self.progress,
            "civilized": self.civilized, "satisfaction": self.satisfaction,
        }


class Ranking(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    weights: Weights = Weights()


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    role: Literal["supervisor", "auditor", "contractor", "bureau"]
    contractor: str | None = Field(None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def contractor_names_its_company(self) -> UserEntry:
        if self.role == "contractor" and not self.contractor:
            raise ValueError("a contractor user needs contractor = \"<construction unit>\"")
        return self


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    ranking: Ranking = Ranking()
    users: dict[str, UserEntry] | None = None
    source: str | None = None

    def access(self) -> Access:
        """Roles apply once the file lists [users]; without it everyone may record anything."""
        from renovation.access import Access, User

        if self.users is None:
            return Access(None)
        return Access({name: User(entry.role, entry.contractor) for name, entry in self.users.items()})


def load_config(path: str | None) -> Config:
    """The given file, else ``renovation.toml`` in the working directory, else the defaults."""
    file = Path(path) if path else Path(DEFAULT_FILE)
    if not file.exists():
        if path:
            raise BadConfig(f"{path}: no such configuration file")
        return Config()
    try:
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as error:
        raise BadConfig(f"{file}: {' '.join(str(error).split())}") from None
    try:
        return Config.model_validate({**data, "source": str(file)})
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadConfig(f"{file}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
