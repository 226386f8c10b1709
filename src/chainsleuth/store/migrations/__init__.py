"""Alembic migrations of the relational store, shipped inside the package and run by
:mod:`chainsleuth.store.migrate`.
"""
