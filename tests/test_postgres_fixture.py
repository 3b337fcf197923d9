"""The throwaway PostgreSQL cluster of tests/postgres.py: up, isolated schemas, restart."""

from __future__ import annotations

from tests.postgres import PostgresServer


def test_schemas_are_fresh_and_the_server_survives_a_restart(postgres: PostgresServer) -> None:
    first, second = postgres.new_schema(), postgres.new_schema()
    assert first != second
    schema = first.rsplit("%3D", 1)[1]
    postgres.sql(f"CREATE TABLE {schema}.t (v int); INSERT INTO {schema}.t VALUES (7)")
    postgres.restart()
    assert postgres.sql(f"SELECT v FROM {schema}.t").strip() == "7"
    assert postgres.sql("SHOW listen_addresses").strip() == "127.0.0.1"
