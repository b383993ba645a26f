//! The clock owners, asked how their clocks stand now (`CheckClocks`):
//! intake for dispatch, dispatch for the manual queue, undertaking for
//! sign-off, feedback and report-in; supervision itself, in its own
//! database, for written feedback to special reports.

use std::collections::HashMap;

use futures_util::future::join_all;
use hotline_common::ApiError;
use hotline_common::error::from_peer;
use hotline_common::startup::Peer;
use hotline_proto::common::v1::CheckClocksRequest;
use hotline_proto::common::v1::clock_service_client::ClockServiceClient;

use super::model::Clock;
use super::rules::Owner;
use crate::ids::ClockId;

/// Clock ids per `CheckClocks` call (the owners' limit).
const PER_CALL: usize = 1000;

#[derive(Clone)]
pub struct Owners {
    pub intake: ClockServiceClient<Peer>,
    pub dispatch: ClockServiceClient<Peer>,
    pub undertaking: ClockServiceClient<Peer>,
    /// Supervision's own database, holding its own clocks.
    pub own: sqlx::PgPool,
}

/// The owners' answers for a batch: the clocks they know, and the owners
/// that could not be asked, with why.
#[derive(Debug, Default)]
pub struct Answers {
    pub clocks: HashMap<ClockId, Clock>,
    pub down: HashMap<Owner, String>,
}

impl Owners {
    fn client(&self, who: Owner) -> Option<ClockServiceClient<Peer>> {
        match who {
            Owner::Intake => Some(self.intake.clone()),
            Owner::Dispatch => Some(self.dispatch.clone()),
            Owner::Undertaking => Some(self.undertaking.clone()),
            Owner::Supervision => None,
        }
    }

    /// One owner's clocks. A clock state the owner got wrong is left out
    /// (so its events do nothing) and logged.
    pub async fn check(&self, who: Owner, ids: &[ClockId]) -> Result<Vec<Clock>, ApiError> {
        let mut clocks = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(PER_CALL) {
            let asked: Vec<String> = chunk.iter().map(ToString::to_string).collect();
            let states = match self.client(who) {
                None => hotline_common::clock::states(&self.own, &asked).await?,
                Some(mut client) => {
                    client
                        .check_clocks(CheckClocksRequest { clock_ids: asked })
                        .await
                        .map_err(|s| from_peer(who.as_str(), s))?
                        .into_inner()
                        .clocks
                }
            };
            for state in states {
                match Clock::parse(&state) {
                    Ok(c) => clocks.push(c),
                    Err(e) => tracing::warn!(
                        owner = who.as_str(),
                        clock_id = %state.clock_id,
                        error = %e.message,
                        "clock state from its owner is malformed, ignoring it"
                    ),
                }
            }
        }
        Ok(clocks)
    }

    /// Asks every owner a batch needs, all at once.
    pub async fn check_all(&self, asks: HashMap<Owner, Vec<ClockId>>) -> Answers {
        let replies = join_all(
            asks.into_iter()
                .map(|(who, ids)| async move { (who, self.check(who, &ids).await) }),
        )
        .await;
        let mut answers = Answers::default();
        for (who, reply) in replies {
            match reply {
                Ok(clocks) => answers
                    .clocks
                    .extend(clocks.into_iter().map(|c| (c.id.clone(), c))),
                Err(e) => {
                    tracing::warn!(
                        owner = who.as_str(),
                        error = %e.message,
                        "clock owner not answering, parking its events"
                    );
                    answers.down.insert(who, e.message);
                }
            }
        }
        answers
    }
}
