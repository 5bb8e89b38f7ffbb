//! What one invocation may spend, and the meter that keeps the outbox within it.
//!
//! Cloudflare caps each invocation (Workers limits and D1 limits pages, 2026): on Workers Paid
//! 10,000 subrequests (D1 and KV binding calls count), 1,000 D1 queries and 1,000 KV operations;
//! on Workers Free 50 of each. `waitUntil` work is cancelled 30 s after the answer and a Cron
//! Trigger gets 15 minutes. Past a cap the platform fails every further call, so the outbox
//! stops itself first: [`Metered`] counts every D1, KV and Talkdesk call made through the
//! ports, refuses the call that would pass the budget, and [`Meter::affords`] lets a runner
//! stop cleanly between steps (the work resumes from its stored cursor in the next invocation).

use std::cell::Cell;

use super::Ports;
use crate::config::WorkersPlan;
use crate::ports::{Cache, Database, PortError, Row, Statement, TalkdeskHttp};
use crate::talkdesk::http::{HttpRequest, HttpResponse};

/// The error of a call the meter refused.
pub const SPENT: &str = "this invocation's budget is spent";

/// Whether an error's text is (or carries) the meter's refusal.
pub fn spent(error: &str) -> bool {
    error.contains(SPENT)
}

/// The spending limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// D1 statements (each statement of a batch counts: the conservative reading of the limit).
    pub queries: u32,
    /// Calls leaving the isolate: D1 calls (a batch is one), KV calls and fetches.
    pub subrequests: u32,
    pub kv_ops: u32,
    /// Wall time after which no new step starts.
    pub wall_ms: u64,
}

/// How the invocation was started: its wall-time limit differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// Work after the answer to a request (`waitUntil`): cancelled 30 s after the answer.
    AfterAnswer,
    /// The cron sweep: 15 minutes.
    Cron,
}

impl Budget {
    /// The budget for `plan`: 90 % of each cap (the request that started the invocation has
    /// spent a little already), half of Paid's 10,000 subrequests (a margin the work never
    /// needs), and wall time that leaves a step's length before the cut.
    pub fn for_plan(plan: WorkersPlan, invocation: Invocation) -> Budget {
        let wall_ms = match invocation {
            Invocation::AfterAnswer => 20_000,
            Invocation::Cron => 10 * 60_000,
        };
        match plan {
            WorkersPlan::Paid => Budget {
                queries: 900,
                subrequests: 5_000,
                kv_ops: 900,
                wall_ms,
            },
            WorkersPlan::Free => Budget {
                queries: 45,
                subrequests: 45,
                kv_ops: 45,
                wall_ms,
            },
        }
    }
}

/// What a step may need, checked before it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub queries: u32,
    pub subrequests: u32,
}

/// What one job needs apart from its users pages: lease, reads, a token (read, lease, mint,
/// store, KV), the read-back, account, subscription, the approval and the records. Measured
/// when it was set: an install of a one-page account spent 24 queries and 31 subrequests, an
/// update 27 and 27. Since, a handed-over one-page install spends 17 and 8 after the answer
/// (test `a_handed_over_one_page_install_makes_two_d1_round_trips_after_the_answer`); the
/// reserve stays, for the jobs that take the longer paths.
pub const JOB_COST: Cost = Cost {
    queries: 32,
    subrequests: 36,
};

/// One users page: the fetch, and one batch (staging insert and cursor) of two statements,
/// plus a lease renewal.
pub const PAGE_COST: Cost = Cost {
    queries: 3,
    subrequests: 3,
};

/// What an invocation has spent so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    pub queries: u32,
    pub subrequests: u32,
    pub kv_ops: u32,
    /// Calls the meter refused because they would have passed the budget.
    pub refused: u32,
}

/// Counts one invocation's calls against its budget.
pub struct Meter {
    budget: Budget,
    started_ms: u64,
    used: Cell<Usage>,
}

impl Meter {
    pub fn new(budget: Budget, started_ms: u64) -> Meter {
        Meter {
            budget,
            started_ms,
            used: Cell::new(Usage::default()),
        }
    }

    pub fn budget(&self) -> Budget {
        self.budget
    }

    pub fn used(&self) -> Usage {
        self.used.get()
    }

    /// Whether a step costing `cost` fits in what is left, with `reserve` kept back for
    /// finishing (recording an outcome), and there is wall time to start it.
    pub fn affords(&self, cost: Cost, reserve: Cost, now_ms: u64) -> bool {
        let u = self.used.get();
        let b = self.budget;
        u.queries + cost.queries + reserve.queries <= b.queries
            && u.subrequests + cost.subrequests + reserve.subrequests <= b.subrequests
            && now_ms.saturating_sub(self.started_ms) < b.wall_ms
    }

    /// Spends one call's worth, or refuses it when it would pass the budget.
    fn charge(&self, queries: u32, subrequests: u32, kv_ops: u32) -> Result<(), PortError> {
        let mut u = self.used.get();
        let b = self.budget;
        if u.queries + queries > b.queries
            || u.subrequests + subrequests > b.subrequests
            || u.kv_ops + kv_ops > b.kv_ops
        {
            u.refused += 1;
            self.used.set(u);
            return Err(PortError(SPENT.into()));
        }
        u.queries += queries;
        u.subrequests += subrequests;
        u.kv_ops += kv_ops;
        self.used.set(u);
        Ok(())
    }
}

/// The ports of `P`, with every D1, KV and Talkdesk call counted by a [`Meter`].
pub struct Metered<'a, P: Ports> {
    inner: &'a P,
    meter: &'a Meter,
    db: MeteredDb<'a, P::Db>,
    cache: MeteredCache<'a, P::Cache>,
    http: MeteredHttp<'a, P::Http>,
}

impl<'a, P: Ports> Metered<'a, P> {
    pub fn new(inner: &'a P, meter: &'a Meter) -> Metered<'a, P> {
        Metered {
            inner,
            meter,
            db: MeteredDb {
                inner: inner.db(),
                meter,
            },
            cache: MeteredCache {
                inner: inner.cache(),
                meter,
            },
            http: MeteredHttp {
                inner: inner.http(),
                meter,
            },
        }
    }
}

impl<'a, P: Ports> Ports for Metered<'a, P> {
    type Db = MeteredDb<'a, P::Db>;
    type Cache = MeteredCache<'a, P::Cache>;
    type Http = MeteredHttp<'a, P::Http>;
    type Clock = P::Clock;
    type Signer = P::Signer;
    type Log = P::Log;
    type Hooks = P::Hooks;
    fn db(&self) -> &Self::Db {
        &self.db
    }
    fn cache(&self) -> &Self::Cache {
        &self.cache
    }
    fn http(&self) -> &Self::Http {
        &self.http
    }
    fn clock(&self) -> &P::Clock {
        self.inner.clock()
    }
    fn signer(&self) -> &P::Signer {
        self.inner.signer()
    }
    fn log(&self) -> &P::Log {
        self.inner.log()
    }
    fn hooks(&self) -> &P::Hooks {
        self.inner.hooks()
    }
    fn meter(&self) -> Option<&Meter> {
        Some(self.meter)
    }
    fn handoff(&self) -> Option<&super::outbox::Handoff> {
        self.inner.handoff()
    }
}

pub struct MeteredDb<'a, D> {
    inner: &'a D,
    meter: &'a Meter,
}

impl<D: Database> Database for MeteredDb<'_, D> {
    async fn query(&self, statement: &Statement) -> Result<Vec<Row>, PortError> {
        self.meter.charge(1, 1, 0)?;
        self.inner.query(statement).await
    }
    async fn execute(&self, statement: &Statement) -> Result<u64, PortError> {
        self.meter.charge(1, 1, 0)?;
        self.inner.execute(statement).await
    }
    async fn batch(&self, statements: &[Statement]) -> Result<(), PortError> {
        self.meter.charge(statements.len() as u32, 1, 0)?;
        self.inner.batch(statements).await
    }
    async fn batch_query(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, PortError> {
        self.meter.charge(statements.len() as u32, 1, 0)?;
        self.inner.batch_query(statements).await
    }
}

pub struct MeteredCache<'a, C> {
    inner: &'a C,
    meter: &'a Meter,
}

impl<C: Cache> Cache for MeteredCache<'_, C> {
    async fn get(&self, key: &str) -> Result<Option<String>, PortError> {
        self.meter.charge(0, 1, 1)?;
        self.inner.get(key).await
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), PortError> {
        self.meter.charge(0, 1, 1)?;
        self.inner.put(key, value, ttl_secs).await
    }
    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.meter.charge(0, 1, 1)?;
        self.inner.delete(key).await
    }
    async fn list(&self, prefix: &str, limit: u32) -> Result<Vec<String>, PortError> {
        self.meter.charge(0, 1, 1)?;
        self.inner.list(prefix, limit).await
    }
}

pub struct MeteredHttp<'a, H> {
    inner: &'a H,
    meter: &'a Meter,
}

impl<H: TalkdeskHttp> TalkdeskHttp for MeteredHttp<'_, H> {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, PortError> {
        self.meter.charge(0, 1, 0)?;
        self.inner.send(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Meter {
        Meter::new(
            Budget {
                queries: 10,
                subrequests: 5,
                kv_ops: 2,
                wall_ms: 1_000,
            },
            0,
        )
    }

    #[test]
    fn a_call_past_the_budget_is_refused_and_counted_as_refused() {
        let m = small();
        for _ in 0..5 {
            m.charge(1, 1, 0).unwrap();
        }
        assert!(m.charge(1, 1, 0).is_err());
        assert_eq!(m.used().subrequests, 5);
        assert_eq!(m.used().refused, 1);
    }

    #[test]
    fn a_batch_counts_each_statement_as_a_query_and_one_subrequest() {
        let m = small();
        m.charge(8, 1, 0).unwrap();
        assert!(m.charge(3, 1, 0).is_err(), "8 + 3 statements pass 10");
        m.charge(2, 1, 0).unwrap();
        assert_eq!(m.used().queries, 10);
    }

    #[test]
    fn kv_operations_have_their_own_cap() {
        let m = small();
        m.charge(0, 1, 1).unwrap();
        m.charge(0, 1, 1).unwrap();
        assert!(m.charge(0, 1, 1).is_err());
    }

    #[test]
    fn a_step_is_afforded_only_with_its_reserve_and_wall_time_left() {
        let m = small();
        let step = Cost {
            queries: 4,
            subrequests: 2,
        };
        let reserve = Cost {
            queries: 4,
            subrequests: 2,
        };
        assert!(m.affords(step, reserve, 10));
        m.charge(3, 2, 0).unwrap();
        assert!(!m.affords(step, reserve, 10), "3 + 4 + 4 queries pass 10");
        assert!(!small().affords(step, reserve, 1_000), "no wall time left");
    }

    #[test]
    fn the_free_plan_budget_stays_under_its_fifty_call_caps() {
        let b = Budget::for_plan(WorkersPlan::Free, Invocation::Cron);
        assert!(b.queries < 50 && b.subrequests < 50 && b.kv_ops < 50);
        let p = Budget::for_plan(WorkersPlan::Paid, Invocation::AfterAnswer);
        assert!(p.queries < 1_000 && p.subrequests < 10_000 && p.kv_ops < 1_000);
        assert!(p.wall_ms < 30_000);
    }
}
