//! The fake broker's state: delivered messages per queue, the duplicate-detection window,
//! scripted replies and a log of every attempt.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{Attempt, ReceivedMessage, Reply};

/// Service Bus's default duplicate-detection history window.
const DEFAULT_WINDOW: Duration = Duration::from_secs(10 * 60);

#[derive(Debug)]
pub(crate) struct Broker {
    pub window: Duration,
    delivered: BTreeMap<String, Vec<ReceivedMessage>>,
    seen: HashMap<(String, String), Instant>,
    pub replies: VecDeque<Reply>,
    pub attempts: Vec<Attempt>,
}

impl Default for Broker {
    fn default() -> Self {
        Self {
            window: DEFAULT_WINDOW,
            delivered: BTreeMap::new(),
            seen: HashMap::new(),
            replies: VecDeque::new(),
            attempts: Vec::new(),
        }
    }
}

impl Broker {
    /// Enqueues `message` unless its id was accepted on the same queue within the window.
    /// Like the real broker, a duplicate is answered 201 and then dropped (B18); returns
    /// whether it was delivered.
    pub fn accept(&mut self, message: ReceivedMessage, now: Instant) -> bool {
        let window = self.window;
        self.seen.retain(|_, at| now.duration_since(*at) < window);

        let key = (message.queue.clone(), message.message_id.clone());
        if self.seen.contains_key(&key) {
            return false;
        }
        self.seen.insert(key, now);
        self.delivered.entry(message.queue.clone()).or_default().push(message);
        true
    }

    pub fn pending(&self, queue: &str) -> usize {
        self.delivered.get(queue).map_or(0, Vec::len)
    }

    pub fn drain(&mut self, queue: &str) -> Vec<ReceivedMessage> {
        self.delivered.remove(queue).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(queue: &str, id: &str) -> ReceivedMessage {
        ReceivedMessage {
            queue: queue.to_owned(),
            message_id: id.to_owned(),
            correlation_id: None,
            scheduled_enqueue_time: None,
            content_type: None,
            body: Vec::new(),
            broker_properties: serde_json::Map::new(),
        }
    }

    #[test]
    fn duplicates_are_dropped_per_queue_within_the_window_only() {
        let mut broker = Broker { window: Duration::from_secs(60), ..Broker::default() };
        let t0 = Instant::now();

        assert!(broker.accept(message("q", "a"), t0));
        assert!(!broker.accept(message("q", "a"), t0 + Duration::from_secs(59)));
        assert!(broker.accept(message("other", "a"), t0), "the window is per entity");
        assert!(broker.accept(message("q", "a"), t0 + Duration::from_secs(61)));

        assert_eq!(broker.drain("q").len(), 2);
        assert_eq!(broker.pending("q"), 0);
        assert_eq!(broker.pending("other"), 1);
    }
}
