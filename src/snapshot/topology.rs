//! The page's topology snapshot: one insta-format file per page, `<page>.topology.snap`, beside its blocks'
//! snapshots, holding the network after each block that changed it.
//!
//! A file of its own rather than a section in every block's snapshot: a block that creates nothing keeps its
//! snapshot as it was, a topology change shows up once in review as the page's network, and books recorded
//! before topologies existed still replay (a page without the file has no picture, nothing fails).
//!
//! The body is one section per change, `after NAME` (the block's snapshot name), then its lines:
//!
//! ```text
//! after src-c2c__user-defined-1
//! network c2c bridge [IP1]/16
//! container web
//!   on c2c [IP2] alias=www
//!   port [IP3]:8080->80/tcp
//!   link db:database
//! container srv mode=host
//! ```
//!
//! redacted with the page's `Redactor` after the page's transcripts, so an address the transcripts showed
//! as `[IP2]` is `[IP2]` here too. The header's `raw` holds the same body before redaction: the real values
//! the picture shows readers.

use std::path::Path;

use super::{slug, Meta, SnapshotError, Stored};
use crate::engine::topology::{Attachment, Container, Network, Port, Topology};
use crate::snippet::Page;

/// The network after one block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    /// The snapshot name of the block after which the topology was taken.
    pub after: String,
    pub topology: Topology,
}

/// The snapshot name of a page's topology: `<page>.topology`, which no block's name (`page__…`) can be.
pub fn name(page: &Page) -> String {
    format!(
        "{}.topology",
        slug(&page.path.with_extension("").to_string_lossy())
    )
}

/// The body of the topology snapshot.
pub fn render(sections: &[Section]) -> String {
    let mut out = String::new();
    for (i, s) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("after {}\n", s.after));
        if s.topology.is_empty() {
            out.push_str("nothing\n");
        }
        for n in &s.topology.networks {
            out.push_str(&format!("network {} {}", n.name, n.driver));
            for subnet in &n.subnets {
                out.push_str(&format!(" {subnet}"));
            }
            if n.internal {
                out.push_str(" internal");
            }
            out.push('\n');
        }
        for c in &s.topology.containers {
            out.push_str(&format!("container {}", c.name));
            if let Some(mode) = &c.mode {
                out.push_str(&format!(" mode={mode}"));
            }
            out.push('\n');
            for a in &c.networks {
                out.push_str(&format!(
                    "  on {} {}",
                    a.network,
                    a.address.as_deref().unwrap_or("-")
                ));
                for alias in &a.aliases {
                    out.push_str(&format!(" alias={alias}"));
                }
                out.push('\n');
            }
            for p in &c.ports {
                let ip = if p.host_ip.is_empty() {
                    "-"
                } else {
                    &p.host_ip
                };
                out.push_str(&format!("  port {ip}:{}->{}\n", p.host_port, p.container));
            }
            for l in &c.links {
                out.push_str(&format!("  link {l}\n"));
            }
        }
    }
    out
}

/// The snapshot's body: [`render`]'s, redacted by the page's redactor (after its transcripts, so values
/// they showed keep their placeholders), subnets without their prefix length. The engine picks a subnet's
/// size from what its address pools have left (`/16` from a fresh engine, `/20` once the 172.16/12 pool is
/// used up), which says nothing about the page; the raw body the picture is drawn from keeps it.
pub fn render_redacted(sections: &[Section], redactor: &mut crate::redact::Redactor) -> String {
    let steady: Vec<Section> = sections
        .iter()
        .map(|s| {
            let mut s = s.clone();
            for n in &mut s.topology.networks {
                for subnet in &mut n.subnets {
                    if let Some((address, _)) = subnet.split_once('/') {
                        *subnet = address.to_string();
                    }
                }
            }
            s
        })
        .collect();
    redactor.redact(&render(&steady))
}

/// Reads a body [`render`] wrote; lines it does not know are skipped.
pub fn parse(body: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for line in body.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&first, rest)) = words.split_first() else {
            continue;
        };
        if first == "after" {
            sections.push(Section {
                after: rest.join(" "),
                topology: Topology::default(),
            });
            continue;
        }
        let Some(t) = sections.last_mut().map(|s| &mut s.topology) else {
            continue;
        };
        match (first, rest) {
            ("network", [name, driver, more @ ..]) => t.networks.push(Network {
                name: name.to_string(),
                driver: driver.to_string(),
                subnets: more
                    .iter()
                    .filter(|w| **w != "internal")
                    .map(|w| w.to_string())
                    .collect(),
                internal: more.contains(&"internal"),
            }),
            ("container", [name, more @ ..]) => t.containers.push(Container {
                name: name.to_string(),
                mode: more
                    .iter()
                    .find_map(|w| w.strip_prefix("mode="))
                    .map(str::to_string),
                ..Container::default()
            }),
            (word, rest) => {
                let Some(c) = t.containers.last_mut() else {
                    continue;
                };
                match (word, rest) {
                    ("on", [network, address, aliases @ ..]) => c.networks.push(Attachment {
                        network: network.to_string(),
                        address: (*address != "-").then(|| address.to_string()),
                        aliases: aliases
                            .iter()
                            .filter_map(|w| w.strip_prefix("alias="))
                            .map(str::to_string)
                            .collect(),
                    }),
                    ("port", [spec]) => {
                        let Some((host, container)) = spec.split_once("->") else {
                            continue;
                        };
                        let Some((ip, port)) = host.rsplit_once(':') else {
                            continue;
                        };
                        c.ports.push(Port {
                            host_ip: if ip == "-" {
                                String::new()
                            } else {
                                ip.to_string()
                            },
                            host_port: port.to_string(),
                            container: container.to_string(),
                        });
                    }
                    ("link", [link]) => c.links.push(link.to_string()),
                    _ => {}
                }
            }
        }
    }
    sections
}

/// The page's stored topology snapshot, sections of its raw body (the real values) when it has one, else of
/// its redacted body; `Ok(None)` when the page has none.
pub fn read(dir: &Path, page: &Page) -> Result<Option<Vec<Section>>, SnapshotError> {
    let stored: Option<Stored> = super::read(&super::path(dir, &name(page)))?;
    Ok(stored.map(|s| {
        if s.meta.raw.is_empty() {
            parse(&s.body)
        } else {
            parse(&s.meta.raw)
        }
    }))
}

/// The header of a page's topology snapshot: `block` names the page.
pub fn meta(page: &Page, engine: &str, date: &str, raw: String) -> Meta {
    Meta {
        block: page.path.display().to_string(),
        engine: engine.to_string(),
        commands: String::new(),
        date: date.to_string(),
        raw,
        verified_on: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::Redactor;

    fn sample() -> Vec<Section> {
        vec![
            Section {
                after: "src-c2c__top-1".into(),
                topology: Topology {
                    networks: vec![Network {
                        name: "c2c".into(),
                        driver: "bridge".into(),
                        subnets: vec!["172.18.0.0/16".into()],
                        internal: true,
                    }],
                    containers: vec![
                        Container {
                            name: "web".into(),
                            mode: None,
                            networks: vec![Attachment {
                                network: "c2c".into(),
                                address: Some("172.18.0.2".into()),
                                aliases: vec!["www".into(), "site".into()],
                            }],
                            links: vec!["db:database".into()],
                            ports: vec![Port {
                                host_ip: "127.0.0.1".into(),
                                host_port: "8080".into(),
                                container: "80/tcp".into(),
                            }],
                        },
                        Container {
                            name: "srv".into(),
                            mode: Some("host".into()),
                            ..Container::default()
                        },
                    ],
                },
            },
            Section {
                after: "src-c2c__clean-up-1".into(),
                topology: Topology::default(),
            },
        ]
    }

    // The preprocessor draws from what the runner wrote: the format must read back as it was written.
    #[test]
    fn the_body_reads_back_as_written() {
        let body = render(&sample());
        insta::assert_snapshot!(body, @r"
        after src-c2c__top-1
        network c2c bridge 172.18.0.0/16 internal
        container web
          on c2c 172.18.0.2 alias=www alias=site
          port 127.0.0.1:8080->80/tcp
          link db:database
        container srv mode=host

        after src-c2c__clean-up-1
        nothing
        ");
        assert_eq!(parse(&body), sample());
    }

    // The topology is redacted by the page's own redactor after its transcripts: an address a transcript
    // showed keeps that transcript's placeholder, and the redacted body still reads back.
    #[test]
    fn redaction_keeps_the_transcripts_placeholders() {
        let mut redactor = Redactor::new();
        let shown = redactor.redact("inet 172.18.0.2/16 scope global eth0");
        let body = render_redacted(&sample(), &mut redactor);
        let placeholder = shown.split_whitespace().nth(1).unwrap();
        let placeholder = placeholder.split('/').next().unwrap();
        assert!(
            body.contains(&format!("on c2c {placeholder} alias=www")),
            "{shown}\n{body}"
        );
        assert!(!body.contains("172.18."), "{body}");
        // A fresh engine's /16 and a used one's /20 are the same page.
        assert!(
            body.contains("network c2c bridge [IP2] internal\n"),
            "{body}"
        );
        let back = parse(&body);
        assert_eq!(
            back[0].topology.containers[0].networks[0].aliases,
            ["www", "site"]
        );
        assert_eq!(back[0].topology.containers[0].ports[0].container, "80/tcp");
    }
}
