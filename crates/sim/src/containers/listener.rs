//! Binding and stopping the per-group listeners.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::proxy;
use crate::server;
use crate::sim::Shared;

/// A running listener; dropping it stops it.
pub(crate) struct ListenerHandle {
    ip: Ipv4Addr,
    ports: Vec<u16>,
    tasks: Vec<JoinHandle<()>>,
}

impl ListenerHandle {
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.ports.iter().map(|p| SocketAddr::from((self.ip, *p))).collect()
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

const BIND_ATTEMPTS: usize = 16;

/// Starts (or restarts) the listener of a running group on its exposed ports.
pub(crate) async fn start(shared: &Arc<Shared>, group_key: &str) {
    if !shared.config.container_listeners {
        return;
    }
    stop(shared, group_key);
    let (mut ip, ports) = {
        let world = shared.world();
        let Some(group) = world.resources.get(group_key) else { return };
        let ports: Vec<u16> = group
            .body
            .pointer("/properties/ipAddress/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.get("port").and_then(Value::as_u64))
            .filter_map(|p| u16::try_from(p).ok())
            .collect();
        (group.ip.unwrap_or(Ipv4Addr::LOCALHOST), ports)
    };
    if ports.is_empty() {
        return;
    }

    for attempt in 1..=BIND_ATTEMPTS {
        match bind_all(ip, &ports).await {
            Ok(listeners) => {
                let routes = proxy::routes(shared.clone(), group_key.to_string());
                let tasks = listeners
                    .into_iter()
                    .map(|l| server::spawn_accept_loop(l, None, routes.clone()))
                    .collect();
                record_ip(shared, group_key, ip);
                let handle = ListenerHandle { ip, ports, tasks };
                shared
                    .listeners
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(group_key.to_string(), handle);
                tracing::debug!(group = group_key, %ip, "container listener started");
                return;
            }
            Err(error) => {
                tracing::debug!(group = group_key, %ip, %error, attempt, "bind failed, trying \
                    another address");
                ip = shared.world().loopback_ip();
            }
        }
    }
    tracing::warn!(group = group_key, "could not bind a loopback address for the container group");
}

async fn bind_all(ip: Ipv4Addr, ports: &[u16]) -> std::io::Result<Vec<TcpListener>> {
    let mut listeners = Vec::with_capacity(ports.len());
    for port in ports {
        listeners.push(TcpListener::bind((ip, *port)).await?);
    }
    Ok(listeners)
}

/// The group reports the address it actually got.
fn record_ip(shared: &Shared, group_key: &str, ip: Ipv4Addr) {
    let mut world = shared.world();
    let Some(group) = world.resources.get_mut(group_key) else { return };
    group.ip = Some(ip);
    if let Some(address) =
        group.body.pointer_mut("/properties/ipAddress").and_then(Value::as_object_mut)
    {
        address.insert("ip".into(), json!(ip.to_string()));
    }
}

pub(crate) fn stop(shared: &Shared, group_key: &str) {
    let removed = shared.listeners.lock().unwrap_or_else(|e| e.into_inner()).remove(group_key);
    if removed.is_some() {
        tracing::debug!(group = group_key, "container listener stopped");
    }
}
