//! The Functions host payload parsers (envelope, Service Bus and Event Grid triggers, the
//! work message inside) must reject any input with errors, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polaris_host::{EventGridTrigger, IncomingEvent, InvocationRequest, ServiceBusTrigger};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = InvocationRequest::from_slice(data) else { return };
    let _ = request.retry_context();
    let _ = request.method_name();
    for binding in ["message", "event", "req", "timer"] {
        if let Ok(trigger) = ServiceBusTrigger::from_invocation(&request, binding) {
            if let Some(json) = trigger.body.as_json() {
                let _ = serde_json::from_value::<polaris_core::saga::WorkMessage>(json.clone());
            }
            let _ = trigger.body.as_text();
        }
        let _ = EventGridTrigger::from_invocation(&request, binding);
        if let Ok(value) = request.binding(binding) {
            let _ = IncomingEvent::parse_batch(value);
            let _ = IncomingEvent::from_value(value);
        }
    }
});
