"""Stores: the relational store (SQLAlchemy + Alembic) and the columnar chain store (Parquet + DuckDB)."""
