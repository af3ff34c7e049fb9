//! The tests' own PostgreSQL (`tests/support/postgres.rs`) from this binary too: a fresh,
//! empty database that answers.

use crate::postgres;

#[test]
fn postgres_cluster_gives_a_fresh_database() {
    let server = postgres::server();
    let url = server.fresh_database("api");
    assert!(url.starts_with("postgres://"), "{url}");
    assert_eq!(server.psql(&url, "select current_database()"), database_name(&url));
    let tables = "select count(*) from pg_tables where schemaname not in ('pg_catalog', 'information_schema')";
    assert_eq!(server.psql(&url, tables), "0");
}

/// The database a URL names (`postgres://user@host:port/NAME?query`).
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap().split('?').next().unwrap()
}
