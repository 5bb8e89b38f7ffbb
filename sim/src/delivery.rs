//! The Events sender: POSTs events to the callback URL, retries failed genuine deliveries on
//! Talkdesk's schedule ([`RETRY_DELAYS`] times the time scale), records every attempt, and holds
//! and releases (reorders) genuine events on request.

use crate::clock::now_rfc3339;
use crate::error::{SimError, SimResult};
use crate::model::{DeliveryAttempt, DeliveryOutcome, Sent, RETRY_DELAYS};
use crate::state::Core;
use serde_json::Value;
use std::sync::Arc;

impl Core {
    /// Sends a genuine event that is already recorded, and says what became of it.
    pub(crate) async fn send_genuine(self: &Arc<Self>, event: Value) -> Sent {
        let event_id = event["id"].as_str().unwrap_or_default().to_string();
        let delivery = self.dispatch(event.clone(), true).await;
        Sent {
            event_id,
            event,
            delivery,
        }
    }

    /// Sends a genuine event again, as Talkdesk would on a duplicate delivery.
    pub async fn redeliver(self: &Arc<Self>, event_id: &str) -> SimResult<Sent> {
        let event = self
            .event(event_id)
            .ok_or_else(|| SimError::UnknownEvent(event_id.to_string()))?;
        Ok(self.send_genuine(event).await)
    }

    /// Sends any JSON `times` times, once each, with no retries; never recorded as genuine.
    pub async fn send_raw(self: &Arc<Self>, body: Value, times: usize) -> Vec<DeliveryOutcome> {
        let mut out = vec![];
        for _ in 0..times {
            out.push(self.dispatch(body.clone(), false).await);
        }
        out
    }

    /// First attempt now (genuine events are queued instead while events are held; raw and forged
    /// sends always go at once); genuine events that fail are retried in the background after 5
    /// and 10 minutes (times `time_scale`).
    pub async fn dispatch(self: &Arc<Self>, event: Value, genuine: bool) -> DeliveryOutcome {
        {
            let mut st = self.state();
            if st.hold && genuine {
                st.held.push(event);
                return DeliveryOutcome {
                    held: true,
                    attempt: None,
                };
            }
        }
        let first = self.attempt(&event, 1, genuine).await;
        if genuine && !first.ok() {
            let core = self.clone();
            tokio::spawn(async move {
                for (i, delay) in RETRY_DELAYS.iter().enumerate() {
                    let scale = core.settings().time_scale.max(0.0);
                    tokio::time::sleep(delay.mul_f64(scale)).await;
                    if core.attempt(&event, i as u32 + 2, true).await.ok() {
                        break;
                    }
                }
            });
        }
        DeliveryOutcome {
            held: false,
            attempt: Some(first),
        }
    }

    async fn attempt(&self, event: &Value, attempt: u32, genuine: bool) -> DeliveryAttempt {
        let settings = self.settings();
        let (status, error) = match &settings.callback_url {
            None => (None, Some("no callback URL configured".to_string())),
            Some(url) => match self
                .http
                .post(url)
                .timeout(settings.delivery_timeout)
                .json(event)
                .send()
                .await
            {
                Ok(resp) => (Some(resp.status().as_u16()), None),
                Err(e) if e.is_timeout() => (None, Some(format!("timeout: {}", chain(&e)))),
                Err(e) => (None, Some(format!("connection error: {}", chain(&e)))),
            },
        };
        let rec = DeliveryAttempt {
            event_id: event["id"].as_str().unwrap_or_default().to_string(),
            event_type: event["type"].as_str().unwrap_or_default().to_string(),
            attempt,
            at: now_rfc3339(),
            status,
            error,
            genuine,
        };
        self.state().deliveries.push(rec.clone());
        rec
    }

    pub fn set_hold(&self, hold: bool) {
        self.state().hold = hold;
    }

    /// Removes the held events without sending them.
    pub fn take_held(&self) -> Vec<Value> {
        std::mem::take(&mut self.state().held)
    }

    /// Stops holding and delivers the held events: those named in `order` first, in that order,
    /// then the rest in the order they were held.
    pub async fn release(self: &Arc<Self>, order: &[String]) -> Vec<Sent> {
        let mut held = {
            let mut st = self.state();
            st.hold = false;
            std::mem::take(&mut st.held)
        };
        let mut queue = vec![];
        for id in order {
            if let Some(pos) = held.iter().position(|e| e["id"].as_str() == Some(id)) {
                queue.push(held.remove(pos));
            }
        }
        queue.extend(held);
        let mut out = vec![];
        for event in queue {
            out.push(self.send_genuine(event).await);
        }
        out
    }
}

/// An error and its causes on one line (reqwest's own message hides the cause).
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
