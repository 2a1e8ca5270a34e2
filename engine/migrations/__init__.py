"""Alembic migrations of the engine schema (see env.py; run through engine.db.upgrade)."""
