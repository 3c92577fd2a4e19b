//! Virtual time: starts at a fixed instant, moves only when told, never backwards.

use std::sync::Arc;
use std::time::Duration;

use polaris::clock::{Clock, SystemClock, VIRTUAL_EPOCH, VirtualClock};
use time::macros::datetime;

#[test]
fn virtual_clock_starts_at_the_epoch_and_moves_only_when_advanced() {
    let clock = VirtualClock::new();

    assert_eq!(clock.now(), VIRTUAL_EPOCH);
    assert_eq!(clock.now(), VIRTUAL_EPOCH);

    let after = clock.advance(Duration::from_secs(17));

    assert_eq!(after, datetime!(2025-01-01 00:00:17 UTC));
    assert_eq!(clock.now(), after);
    assert_eq!(clock.elapsed(), Duration::from_secs(17));
}

#[test]
fn advance_to_moves_forward_but_never_back() {
    let clock = VirtualClock::starting_at(datetime!(2030-06-01 12:00:00 UTC));

    let forward = clock.advance_to(datetime!(2030-06-01 12:05:00 UTC));
    let back = clock.advance_to(datetime!(2030-06-01 12:01:00 UTC));
    let before_start = clock.advance_to(datetime!(2020-01-01 00:00:00 UTC));

    assert_eq!(forward, datetime!(2030-06-01 12:05:00 UTC));
    assert_eq!(back, forward, "a target in the past leaves the clock where it is");
    assert_eq!(before_start, forward);
    assert_eq!(clock.elapsed(), Duration::from_secs(300));
}

#[test]
fn shared_handles_see_the_same_time() {
    let driver = Arc::new(VirtualClock::new());
    let component: Arc<dyn Clock> = driver.clone();

    driver.advance(Duration::from_millis(1500));

    assert_eq!(component.now(), datetime!(2025-01-01 00:00:01.5 UTC));
}

#[test]
fn concurrent_advances_all_count() {
    let clock = Arc::new(VirtualClock::new());

    let threads: Vec<_> = (0..8)
        .map(|_| {
            let clock = clock.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    clock.advance(Duration::from_secs(1));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("advancing thread panicked");
    }

    assert_eq!(clock.elapsed(), Duration::from_secs(800));
}

#[test]
fn system_clock_reads_utc_and_does_not_go_back_between_reads() {
    let clock = SystemClock;

    let first = clock.now();
    let second = clock.now();

    assert_eq!(first.offset(), time::UtcOffset::UTC);
    assert!(second >= first);
    assert!(first > VIRTUAL_EPOCH, "the system clock reads the real date");
}
