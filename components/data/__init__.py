"""The data layer: Aurora MySQL and PostgreSQL, Redis, and the rotation of their credentials."""

from components.data.data import Data, DataArgs

__all__ = ["Data", "DataArgs"]
