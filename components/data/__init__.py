"""The data layer: Aurora MySQL and PostgreSQL, Redis, and the rotation of their credentials."""
