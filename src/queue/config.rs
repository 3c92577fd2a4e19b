//! Queue settings, with Service Bus's defaults.

use std::time::Duration;

/// Service Bus's default `MaxDeliveryCount`.
pub const DEFAULT_MAX_DELIVERY_COUNT: u32 = 10;

/// Service Bus's default `DuplicateDetectionHistoryTimeWindow`.
pub const DEFAULT_DUPLICATE_DETECTION_WINDOW: Duration = Duration::from_secs(10 * 60);

/// How an [`EmbeddedQueue`](super::EmbeddedQueue) treats redelivery and duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueConfig {
    /// Deliveries a message gets before it is dead-lettered with
    /// `MaxDeliveryCountExceeded`. Values below 1 count as 1, Service Bus's minimum.
    pub max_delivery_count: u32,
    /// How long a message id is remembered; a second send of the same id within it is
    /// accepted and dropped. `None` turns duplicate detection off.
    pub duplicate_detection_window: Option<Duration>,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_delivery_count: DEFAULT_MAX_DELIVERY_COUNT,
            duplicate_detection_window: Some(DEFAULT_DUPLICATE_DETECTION_WINDOW),
        }
    }
}
