//! The shape every newest-first list of supervision's workflows shares: the
//! columns of the record, from a driving table (the records themselves, or
//! a unit's or a ticket's rows of them), the filters written out, and a
//! cursor on the driving table's (time, id) that is an index condition.

use hotline_common::ApiError;
use hotline_common::paging::Cursor;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool};

/// `SELECT` the record's `columns` (qualified by `alias`) `FROM from WHERE`
/// the filters and the cursor on `key`'s `(time, id)`, newest first, with
/// the parameters numbered `at`, `id` (NULL on the first page) and `limit`.
pub fn page(
    (columns, alias): (&str, &str),
    from: &str,
    (key, time, id): (&str, &str, &str),
    filters: &[String],
    [at_n, id_n, limit_n]: [usize; 3],
) -> String {
    let columns: Vec<String> = columns
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect();
    let mut words = filters.to_vec();
    words.push(format!(
        "({key}.{time}, {key}.{id}) < (COALESCE(${at_n}::timestamptz, 'infinity'), \
         COALESCE(${id_n}::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))"
    ));
    format!(
        "SELECT {} FROM {from} WHERE {} ORDER BY {key}.{time} DESC, {key}.{id} DESC LIMIT ${limit_n}",
        columns.join(", "),
        words.join(" AND ")
    )
}

/// Runs a list's SQL with its filters' values bound in order, then the
/// cursor (NULLs on the first page) and the limit.
pub async fn fetch<T>(
    pool: &PgPool,
    sql: String,
    filters: &[&str],
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<T>, ApiError>
where
    T: for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin,
{
    let mut q = sqlx::query_as::<_, T>(AssertSqlSafe(sql));
    for v in filters {
        q = q.bind(*v);
    }
    let (at, id) = cursor.map(|c| (c.at, c.uuid())).unzip();
    Ok(q.bind(at).bind(id).bind(limit).fetch_all(pool).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_qualifies_its_columns_and_ends_with_the_cursor() {
        let sql = page(
            ("a, b", "m"),
            "t JOIN m ON m.id = t.id",
            ("t", "at", "id"),
            &["t.x = $1".into()],
            [2, 3, 4],
        );
        assert_eq!(
            sql,
            "SELECT m.a, m.b FROM t JOIN m ON m.id = t.id WHERE t.x = $1 AND (t.at, t.id) < \
             (COALESCE($2::timestamptz, 'infinity'), COALESCE($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
             ORDER BY t.at DESC, t.id DESC LIMIT $4"
        );
    }
}
