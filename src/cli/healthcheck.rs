//! `multi-account healthcheck`: asks a running console whether it is alive, for Docker's `HEALTHCHECK` (the image
//! has no curl). Prints one line; exits 0 on a 2xx answer, 1 otherwise.

use reqwest::Url;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct HealthcheckArgs {
    /// The console's listen address, as given to `serve` (0.0.0.0 and :: are asked on loopback).
    #[arg(long, env = "MA_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Ask this URL instead of the console's /healthz (e.g. the emulator's system.ping).
    #[arg(long)]
    pub url: Option<Url>,
    /// The settings file `serve` reads (only `listen` is used).
    #[arg(long, env = "MA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    pub timeout_secs: u64,
}

pub async fn run(args: HealthcheckArgs) -> anyhow::Result<()> {
    let url = match args.url {
        Some(url) => url,
        None => Url::parse(&format!("http://{}/healthz", loopback(args.listen)))?,
    };
    // No proxy: a container's HTTP_PROXY must not decide whether the console answers on loopback.
    let client =
        reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(args.timeout_secs.max(1))).build()?;
    let status = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("unhealthy: {url} did not answer: {}", causes(&e.without_url())))?
        .status();
    anyhow::ensure!(status.is_success(), "unhealthy: {url} answered {status}");
    println!("healthy: {url} answered {status}");
    Ok(())
}

/// An error and its sources on one line (reqwest's own text is only "error sending request").
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

/// Where a client reaches a server listening on `addr`: the unspecified address means every interface, loopback
/// included.
fn loopback(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port()),
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_listen_addresses_are_asked_on_loopback() {
        assert_eq!(loopback("0.0.0.0:8080".parse().unwrap()).to_string(), "127.0.0.1:8080");
        assert_eq!(loopback("[::]:8080".parse().unwrap()).to_string(), "[::1]:8080");
        assert_eq!(loopback("10.1.2.3:8080".parse().unwrap()).to_string(), "10.1.2.3:8080");
    }
}
