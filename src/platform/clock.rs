//! The runtime's clock. In production Workers the clock advances only across I/O, which is
//! all the core needs (expiries, deadlines, lease times).

use std::time::Duration;

use appconnect_core::ports::Clock;

pub struct WorkerClock;

impl Clock for WorkerClock {
    fn now_ms(&self) -> u64 {
        worker::Date::now().as_millis()
    }

    async fn sleep_ms(&self, ms: u64) {
        worker::Delay::from(Duration::from_millis(ms)).await;
    }
}
