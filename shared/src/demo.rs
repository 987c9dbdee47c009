//! Demo data for local runs (`kisum-api seed-demo`): idempotent, so it can
//! run on every start. Each capability adds its part here.

use sqlx::PgPool;
use uuid::Uuid;

/// The demo org that `deploy/dev.sh run` mints a token for.
pub const DEMO_ORG: Uuid = Uuid::from_u128(0x01938000_0000_7000_8000_000000000001);

pub async fn seed(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let shortlists = [
        (
            0x01938000_0000_7000_8000_0000000000a1_u128,
            "Summer festival headliners",
            "Main stage, July and August",
        ),
        (
            0x01938000_0000_7000_8000_0000000000a2,
            "Club tour openers",
            "Support acts for the autumn club run",
        ),
        (
            0x01938000_0000_7000_8000_0000000000a3,
            "New Year's Eve",
            "Late slot, fee ceiling 20k EUR",
        ),
    ];
    for (id, name, description) in shortlists {
        sqlx::query(
            "INSERT INTO shortlists (id, org_id, name, description, created_by)
             VALUES ($1, $2, $3, $4, 'demo') ON CONFLICT DO NOTHING",
        )
        .bind(Uuid::from_u128(id))
        .bind(DEMO_ORG)
        .bind(name)
        .bind(description)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
