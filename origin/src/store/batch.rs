//! Writes made a batch at a time, so that a transaction costs few round trips: the group
//! commit's accepted envelopes (many rows per `INSERT`), and the processing queue's depth and
//! oldest entry for the operator's metrics.

use sqlx::{AnyConnection, AssertSqlSafe};

use super::AcceptedEnvelope;

/// Rows per multi-row `INSERT` (5 parameters each: far below SQLite's and PostgreSQL's limits).
const ROWS_PER_INSERT: usize = 100;

/// `($first, ..., $first+width-1), (...)` for `rows` rows of `width` parameters.
pub fn row_placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| {
            let row = (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ");
            format!("({row})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Stores accepted envelopes in the caller's transaction, a hundred rows per statement.
pub async fn insert_envelopes(tx: &mut AnyConnection, batch: &[AcceptedEnvelope]) -> sqlx::Result<()> {
    for chunk in batch.chunks(ROWS_PER_INSERT) {
        let mut query = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO envelopes (project_id, event_id, received, client_ip, body) VALUES {}",
            row_placeholders(chunk.len(), 5)
        )));
        for e in chunk {
            query = query
                .bind(e.project_id)
                .bind(e.event_id.clone())
                .bind(e.received_ms)
                .bind(e.client_ip.clone())
                .bind(e.body.clone());
        }
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// How many envelopes wait for processing, and when the oldest of them was received.
pub async fn queue_stats(c: &mut AnyConnection) -> sqlx::Result<(usize, Option<i64>)> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM envelopes WHERE processed = 0").fetch_one(&mut *c).await?;
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT received FROM envelopes WHERE processed = 0 ORDER BY id LIMIT 1")
            .fetch_optional(&mut *c)
            .await?;
    Ok((usize::try_from(n).unwrap_or(0), oldest))
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(super::row_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
