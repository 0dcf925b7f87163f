"""Alembic migrations, inside the package so `pix-erase migrate` works wherever it is installed."""
