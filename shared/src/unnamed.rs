//! Unnamed statements for the macro queries, for statements with optional
//! filters (`$n IS NULL OR ...`).
//!
//! sqlx prepares each query as a named statement cached per connection, and
//! after five runs of a named statement Postgres may switch it to a generic
//! plan, made without the parameter values: such a plan cannot use the index
//! of an optional filter and reads every row the rest of the query allows.
//! An unnamed statement is planned with each call's values. `query_scalar!`
//! and the runtime `sqlx::query` have `.persistent(false)` for that;
//! `query!` and `query_as!` do not, so they run through [`Unnamed`].

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgArguments, PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Error, Execute, Executor, PgConnection, Postgres, SqlStr};

/// A connection that runs every statement given to it unnamed (not cached,
/// planned with the call's values): `query_as!(...).fetch_all(Unnamed(conn))`.
#[derive(Debug)]
pub struct Unnamed<'c>(pub &'c mut PgConnection);

/// A statement that is never cached.
struct NotPersistent<E>(E);

impl<'q, E: Execute<'q, Postgres>> Execute<'q, Postgres> for NotPersistent<E> {
    fn sql(self) -> SqlStr {
        self.0.sql()
    }

    fn statement(&self) -> Option<&PgStatement> {
        self.0.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<PgArguments>, sqlx::error::BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

impl<'c> Executor<'c> for Unnamed<'c> {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.0.fetch_many(NotPersistent(query))
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<PgRow>, Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.0.fetch_optional(NotPersistent(query))
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, Error>>
    where
        'c: 'e,
    {
        self.0.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, Error>>
    where
        'c: 'e,
    {
        self.0.describe(sql)
    }
}
