//! The chapter's picture of its network, drawn from the page's topology snapshot (no engine).
//!
//! Where: at each `<!-- docktest:topology -->` the author wrote (the network as the blocks above it left
//! it), else after the last block after which the page's network changed and was not empty (so a clean-up
//! at the end of the page does not leave an empty picture).
//!
//! How: an SVG as a data URL in an `<image>` of an outer `<svg role="img">`, its text alternative in
//! `aria-label`. mdBook 0.5's search index takes in every text node of the chapter's HTML but for `script`
//! and `style`: an inline SVG's `<text>` would put every address and alias of the picture into search
//! results, an attribute does not. Not an `<img>`: mdBook's print page runs a link-rewriting regex with
//! captures over every `<img src>`, which cost 5 M instructions a build on the guide's data URLs, and it
//! leaves `<image>` alone. The image cannot inherit the theme's colours, so it is drawn in black on
//! transparent and `docktest.css` inverts it in the dark themes.

use std::fmt::Write;

use crate::engine::topology::Topology;
use crate::snapshot::topology::Section;

/// What an author writes to place the picture.
pub const DIRECTIVE: &str = "<!-- docktest:topology -->";

const COL: usize = 180;
const HOST_H: usize = 28;
const NODE_Y: usize = 52;
const NODE_H: usize = 26;
const LANE_Y: usize = 100;
const LANE_H: usize = 46;
const LANE_GAP: usize = 8;

/// The picture's look, once: host band, lanes (dashed when internal), nodes, wires, port arrows, small text.
const STYLE: &str = "<style>text{font:12px monospace}.h{fill:%23eee;stroke:%23555}.l{fill:%23f4f4f4;stroke:%23888}.i{stroke-dasharray:4 3}.n{fill:%23fff;stroke:%23000;stroke-width:1.5}.w{stroke:%23333}.p{stroke:%23000;stroke-width:1.5}.b{font-weight:bold}.g,.s{fill:%23555;paint-order:stroke;stroke:%23f4f4f4;stroke-width:3px}.s{font-size:10px}</style>";

/// Where the directive stands on a line of its own (indentation allowed), as byte ranges of `text`: a
/// directive quoted in a sentence or a code span is not one.
pub(crate) fn directives(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end();
        if body.trim_start() == DIRECTIVE {
            let at = start + body.len() - DIRECTIVE.len();
            out.push(at..at + DIRECTIVE.len());
        }
        start += line.len();
    }
    out
}

/// For each block (by snapshot name), the picture to put after it; and for each directive of the page in
/// order, its picture. `block_names` are in page order; `directive_after[k]` is the index of the last block
/// before the k-th directive, if any.
pub(crate) fn placements(
    sections: &[Section],
    block_names: &[String],
    directive_after: &[Option<usize>],
) -> (Vec<Option<String>>, Vec<String>) {
    let at = |name: &str| block_names.iter().position(|n| n == name);
    let mut after_block = vec![None; block_names.len()];
    let mut directives = Vec::new();
    if directive_after.is_empty() {
        if let Some((i, s)) = sections
            .iter()
            .rev()
            .filter(|s| !s.topology.is_empty())
            .find_map(|s| at(&s.after).map(|i| (i, s)))
        {
            after_block[i] = Some(figure(&s.topology));
        }
        return (after_block, directives);
    }
    for before in directive_after {
        // The network as the last changing block at or above the directive left it.
        let topology = before.and_then(|b| {
            sections
                .iter()
                .rev()
                .find(|s| at(&s.after).is_some_and(|i| i <= b))
                .map(|s| &s.topology)
        });
        directives.push(topology.map(figure).unwrap_or_default());
    }
    (after_block, directives)
}

/// The figure: the picture and its text alternative, as an HTML block of one line.
pub(crate) fn figure(t: &Topology) -> String {
    let (svg, w, h) = svg(t);
    format!(
        "\n\n<figure class=\"dt-topology\"><svg role=\"img\" aria-label=\"{}\" width=\"{w}\" height=\"{h}\"><image href=\"data:image/svg+xml,{}\" width=\"{w}\" height=\"{h}\"/></svg></figure>\n\n",
        html_attr(&describe(t)),
        data_url(&svg)
    )
}

/// The text alternative: every network with its containers, addresses and aliases, then the ports.
pub(crate) fn describe(t: &Topology) -> String {
    let mut out = String::from("The network so far.");
    for n in &t.networks {
        let _ = write!(out, " Network {} ({}", n.name, n.driver);
        for s in &n.subnets {
            let _ = write!(out, ", {s}");
        }
        if n.internal {
            out.push_str(", internal");
        }
        out.push_str("):");
        let mut any = false;
        for c in &t.containers {
            if c.mode.as_deref() == Some(n.name.as_str()) {
                let _ = write!(out, " {} (in the host's network);", c.name);
                any = true;
            }
            for a in c.networks.iter().filter(|a| a.network == n.name) {
                let _ = write!(out, " {}", c.name);
                if let Some(addr) = &a.address {
                    let _ = write!(out, " at {addr}");
                }
                if !a.aliases.is_empty() {
                    let _ = write!(out, ", aliases {}", a.aliases.join(", "));
                }
                out.push(';');
                any = true;
            }
        }
        if !any {
            out.push_str(" no containers;");
        }
        out.pop();
        out.push('.');
    }
    for c in &t.containers {
        for p in &c.ports {
            let _ = write!(
                out,
                " Host port {} reaches {} port {}.",
                host_port(&p.host_ip, &p.host_port),
                c.name,
                p.container
            );
        }
        for l in &c.links {
            let _ = write!(out, " {} links {l}.", c.name);
        }
    }
    out
}

fn host_port(ip: &str, port: &str) -> String {
    match ip {
        "" | "0.0.0.0" | "::" => port.to_string(),
        ip if ip.contains(':') => format!("[{ip}]:{port}"),
        ip => format!("{ip}:{port}"),
    }
}

/// Networks as lanes, containers as columns: a node per container under the host's band, a dot with its
/// address and aliases on each lane it joined, an arrow up to the host for each published port.
pub(crate) fn svg(t: &Topology) -> (String, usize, usize) {
    let lanes: Vec<&str> = t.networks.iter().map(|n| n.name.as_str()).collect();
    let width = 10 + COL * t.containers.len().max(2);
    let height = LANE_Y + lanes.len() * (LANE_H + LANE_GAP);
    let lane_y = |i: usize| LANE_Y + i * (LANE_H + LANE_GAP);
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>{STYLE}\
<defs><marker id='a' viewBox='0 0 8 8' refX='7' refY='4' markerWidth='8' markerHeight='8' orient='auto'><path d='M0 0L8 4L0 8z'/></marker></defs>\
<rect class='h' x='1' y='1' width='{}' height='{HOST_H}' rx='4'/><text x='8' y='19'>host</text>",
        width - 2
    );
    // Lane labels go last, over the wires that cross them, each on a halo of the lane's colour.
    let mut labels = String::new();
    for (i, n) in t.networks.iter().enumerate() {
        let y = lane_y(i);
        let mut label = format!("{} ({}", n.name, n.driver);
        for sub in &n.subnets {
            let _ = write!(label, " {sub}");
        }
        if n.internal {
            label.push_str(", internal");
        }
        label.push(')');
        let _ = write!(
            s,
            "<rect class='l{}' x='1' y='{y}' width='{}' height='{LANE_H}' rx='4'/>",
            if n.internal { " i" } else { "" },
            width - 2,
        );
        let _ = write!(
            labels,
            "<text class='g' x='8' y='{}'>{}</text>",
            y + 13,
            xml(&label)
        );
    }
    for (k, c) in t.containers.iter().enumerate() {
        let x = 10 + k * COL;
        let cx = x + 12;
        let mut joined: Vec<(usize, Option<&str>, &[String])> = c
            .networks
            .iter()
            .filter_map(|a| {
                let i = lanes.iter().position(|l| *l == a.network)?;
                Some((i, a.address.as_deref(), a.aliases.as_slice()))
            })
            .collect();
        if let Some(i) = c
            .mode
            .as_deref()
            .and_then(|m| lanes.iter().position(|l| *l == m))
        {
            joined.push((i, Some("host's network"), &[]));
        }
        let bottom = joined
            .iter()
            .map(|(i, ..)| lane_y(*i) + 28)
            .max()
            .unwrap_or(NODE_Y + NODE_H);
        let _ = write!(
            s,
            "<path class='w' d='M{cx} {}V{bottom}'/><rect class='n' x='{x}' y='{NODE_Y}' width='{}' height='{NODE_H}' rx='6'/><text class='b' x='{}' y='{}'>{}</text>",
            NODE_Y + NODE_H,
            COL - 20,
            x + 8,
            NODE_Y + 17,
            xml(&c.name)
        );
        for (i, address, aliases) in joined {
            let y = lane_y(i) + 28;
            let _ = write!(
                s,
                "<circle cx='{cx}' cy='{y}' r='4'/><text x='{}' y='{}'>{}</text>",
                cx + 8,
                y + 4,
                xml(address.unwrap_or("no address"))
            );
            if !aliases.is_empty() {
                let _ = write!(
                    s,
                    "<text class='s' x='{}' y='{}'>aka {}</text>",
                    cx + 8,
                    y + 16,
                    xml(&aliases.join(", "))
                );
            }
        }
        if !c.ports.is_empty() {
            let mut ports: Vec<String> = Vec::new();
            for p in &c.ports {
                let label = format!("{}→{}", host_port(&p.host_ip, &p.host_port), p.container);
                if !ports.contains(&label) {
                    ports.push(label);
                }
            }
            let _ = write!(
                s,
                "<path class='p' d='M{} {NODE_Y}V{}' marker-end='url(%23a)'/><text class='s' x='{}' y='{}'>{}</text>",
                cx + 40,
                HOST_H + 2,
                cx + 46,
                NODE_Y - 8,
                xml(&ports.join(" "))
            );
        }
        if !c.links.is_empty() {
            let _ = write!(
                s,
                "<text class='s' x='{}' y='{}'>link {}</text>",
                x + 8,
                NODE_Y + NODE_H + 12,
                xml(&c.links.join(", "))
            );
        }
    }
    s.push_str(&labels);
    s.push_str("</svg>");
    (s, width, height)
}

/// Text for the inside of an SVG element.
fn xml(text: &str) -> String {
    text.replace('%', "%25")
        .replace('#', "%23")
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The SVG as the text of a `data:` URL that no HTML serializer re-escapes: `%` and `#` are written escaped
/// where the SVG is built (`%23`; text from the page by [`xml`]); what HTML would turn into an entity
/// (mdBook writes `'` as `&#39;`, `<` as `&lt;`) is percent-encoded, which is shorter.
fn data_url(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len() + svg.len() / 8);
    for c in svg.chars() {
        match c {
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '\'' => out.push_str("%27"),
            '"' => out.push_str("%22"),
            '&' => out.push_str("%26"),
            c => out.push(c),
        }
    }
    out
}

/// Text for a double-quoted HTML attribute.
fn html_attr(text: &str) -> String {
    text.replace('&', "&amp;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::topology::{Attachment, Container, Network, Port};

    fn svg_of(t: &Topology) -> String {
        svg(t).0
    }

    fn sample() -> Topology {
        Topology {
            networks: vec![Network {
                name: "c2c".into(),
                driver: "bridge".into(),
                subnets: vec!["172.18.0.0/16".into()],
                internal: false,
            }],
            containers: vec![
                Container {
                    name: "web".into(),
                    networks: vec![Attachment {
                        network: "c2c".into(),
                        address: Some("172.18.0.2".into()),
                        aliases: vec!["www".into()],
                    }],
                    ports: vec![Port {
                        host_ip: "127.0.0.1".into(),
                        host_port: "8080".into(),
                        container: "80/tcp".into(),
                    }],
                    ..Container::default()
                },
                Container {
                    name: "a<b&c".into(),
                    networks: vec![Attachment {
                        network: "c2c".into(),
                        address: Some("172.18.0.3".into()),
                        aliases: vec!["db".into()],
                    }],
                    ..Container::default()
                },
            ],
        }
    }

    // The picture names every network, container, address and alias of the run, and its text alternative
    // says the same for readers who cannot see it.
    #[test]
    fn the_picture_shows_networks_containers_aliases_and_ports() {
        let (svg, w, h) = svg(&sample());
        for text in [
            "c2c (bridge 172.18.0.0/16)",
            ">web<",
            "172.18.0.2",
            "aka www",
            "aka db",
        ] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
        assert!(svg.contains("127.0.0.1:8080→80/tcp"), "{svg}");
        assert!(svg.contains("marker-end"), "a published port is an arrow");
        assert_eq!((w, h), (370, 154));
        let alt = describe(&sample());
        assert_eq!(
            alt,
            "The network so far. Network c2c (bridge, 172.18.0.0/16): web at 172.18.0.2, aliases www; \
             a<b&c at 172.18.0.3, aliases db. Host port 127.0.0.1:8080 reaches web port 80/tcp."
        );
    }

    // Names come from the page: markup in them must stay text, in the SVG and in the HTML around it.
    #[test]
    fn names_are_escaped_in_the_svg_and_the_attribute() {
        let (svg, ..) = svg(&sample());
        assert!(svg.contains(">a&lt;b&amp;c<"), "{svg}");
        let odd = Topology {
            networks: vec![],
            containers: vec![Container {
                name: "50%#x".into(),
                ..Container::default()
            }],
        };
        assert!(
            svg_of(&odd).contains(">50%25%23x<"),
            "a URL's own characters are escaped"
        );
        assert!(!svg.contains('#') && !svg.contains('"'), "{svg}");
        let fig = figure(&sample());
        assert!(fig.contains("%3Ea%26lt;b%26amp;c%3C"), "{fig}");
        // Nothing in the URL that mdBook would write back as an entity.
        let src = fig
            .split("href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(!src.contains(['<', '>', '\'', '&']), "{src}");
        assert!(fig.contains("aria-label=\"The network so far."), "{fig}");
        assert!(fig.contains("a<b&amp;c at"), "{fig}");
        assert_eq!(fig.trim().lines().count(), 1, "one HTML block");
        assert!(fig.len() < 3000, "{} bytes", fig.len());
    }

    // Only a directive on a line of its own places a picture: one quoted in prose stays text.
    #[test]
    fn a_directive_stands_on_its_own_line() {
        let text = format!("a\n  {DIRECTIVE}\nwrite `{DIRECTIVE}` here\n{DIRECTIVE}");
        let found = directives(&text);
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|r| &text[r.clone()] == DIRECTIVE));
        assert_eq!(found[0].start, 4);
    }

    // Without a directive the picture goes after the last block that left a network, not after a clean-up
    // that emptied it; with directives, each shows the network as the blocks above it left it.
    #[test]
    fn placement_follows_the_last_change_or_the_directives() {
        let names: Vec<String> = ["p__a-1", "p__b-1", "p__c-1"].map(String::from).to_vec();
        let sections = vec![
            Section {
                after: "p__a-1".into(),
                topology: sample(),
            },
            Section {
                after: "p__c-1".into(),
                topology: Topology::default(),
            },
        ];
        let (after, directives) = placements(&sections, &names, &[]);
        assert!(after[0].is_some() && after[1].is_none() && after[2].is_none());
        assert!(directives.is_empty());
        let (after, directives) = placements(&sections, &names, &[None, Some(1)]);
        assert!(after.iter().all(Option::is_none));
        assert_eq!(directives[0], "");
        assert!(directives[1].contains("dt-topology"));
    }
}
