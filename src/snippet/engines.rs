//! `engines="…"`: which engine kinds a block is for.
//!
//! A small grammar, terms separated by spaces or commas:
//!
//! - `docker`, `podman`: that product, any version;
//! - `docker-26.1`: that kind (the version as a prefix of whole components, as the matrix names kinds);
//! - `docker>=23`, `docker<26.1`: versions from, or before, that one;
//! - `!TERM`: not on what TERM names.
//!
//! A block is for an engine when some positive term names it (or there is none) and no `!` term does.

use std::fmt;

/// The engine kinds a block is for; the default is every engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Engines {
    terms: Vec<Term>,
    /// As the author wrote it, for messages.
    written: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    negated: bool,
    product: String,
    version: Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    Any,
    Prefix(Vec<u64>),
    AtLeast(Vec<u64>),
    Below(Vec<u64>),
}

const PRODUCTS: [&str; 2] = ["docker", "podman"];
const FORMS: &str = "`docker`, `docker-26.1`, `docker>=23`, `docker<26`, `!podman`";

impl Engines {
    /// Parses the attribute's value; the error says what is wrong and the forms there are.
    pub fn parse(text: &str) -> Result<Engines, String> {
        let mut terms = Vec::new();
        for word in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
        {
            terms.push(term(word).ok_or_else(|| format!("unknown form `{word}` (write {FORMS})"))?);
        }
        if terms.is_empty() {
            return Err(format!("no engine named (write {FORMS})"));
        }
        Ok(Engines {
            terms,
            written: text.trim().to_string(),
        })
    }

    /// Every engine: the attribute was not given.
    pub fn is_all(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value as written (`docker>=23`).
    pub fn written(&self) -> &str {
        &self.written
    }

    /// Whether a block with this attribute runs on `product` (`docker`) at `release` (`26.1.5`).
    pub fn admits(&self, product: &str, release: &str) -> bool {
        let release = numbers(release).unwrap_or_default();
        let names = |t: &&Term| t.product == product && t.version.holds(&release);
        let positive: Vec<&Term> = self.terms.iter().filter(|t| !t.negated).collect();
        (positive.is_empty() || positive.iter().any(names))
            && !self.terms.iter().filter(|t| t.negated).any(|t| names(&t))
    }

    /// Whether the block runs on a kind of the matrix (`docker-26.1`), taken as its lowest release.
    pub fn admits_kind(&self, kind: &str) -> bool {
        let (product, version) = kind.split_once('-').unwrap_or((kind, ""));
        self.admits(&product.to_ascii_lowercase(), version)
    }

    /// The note under the published block: `On Docker 23 and later`, `Not on Podman`; `None` for every
    /// engine.
    pub fn note(&self) -> Option<String> {
        if self.is_all() {
            return None;
        }
        let list = |negated: bool| {
            let words: Vec<String> = self
                .terms
                .iter()
                .filter(|t| t.negated == negated)
                .map(Term::to_string)
                .collect();
            (!words.is_empty()).then(|| words.join(" or "))
        };
        Some(match (list(false), list(true)) {
            (Some(on), Some(not)) => format!("On {on}; not on {not}"),
            (Some(on), None) => format!("On {on}"),
            (None, Some(not)) => format!("Not on {not}"),
            (None, None) => unreachable!("a parsed value has a term"),
        })
    }
}

fn term(word: &str) -> Option<Term> {
    let (negated, rest) = match word.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, word),
    };
    let rest = rest.to_ascii_lowercase();
    let product = PRODUCTS.iter().find(|p| rest.starts_with(**p))?;
    let after = &rest[product.len()..];
    let version = if after.is_empty() {
        Version::Any
    } else if let Some(v) = after.strip_prefix(">=") {
        Version::AtLeast(numbers(v)?)
    } else if let Some(v) = after.strip_prefix('<') {
        Version::Below(numbers(v)?)
    } else if let Some(v) = after.strip_prefix('-') {
        Version::Prefix(numbers(v)?)
    } else {
        return None;
    };
    Some(Term {
        negated,
        product: product.to_string(),
        version,
    })
}

/// `26.1.5` as numbers; `None` unless every component is digits.
fn numbers(text: &str) -> Option<Vec<u64>> {
    text.split('.')
        .map(|part| part.parse().ok())
        .collect::<Option<Vec<u64>>>()
        .filter(|v| !v.is_empty())
}

impl Version {
    fn holds(&self, release: &[u64]) -> bool {
        // Missing components count as zero: `docker>=23` holds for 23.0.0.
        let cmp = |wanted: &[u64]| {
            let n = wanted.len().max(release.len());
            let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
            (0..n)
                .map(|i| at(release, i).cmp(&at(wanted, i)))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        };
        match self {
            Version::Any => true,
            Version::Prefix(p) => p.len() <= release.len() && release.starts_with(p),
            Version::AtLeast(v) => cmp(v).is_ge(),
            Version::Below(v) => cmp(v).is_lt(),
        }
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let product = match self.product.as_str() {
            "docker" => "Docker",
            "podman" => "Podman",
            other => other,
        };
        let v = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(".");
        match &self.version {
            Version::Any => write!(f, "{product}"),
            Version::Prefix(p) => write!(f, "{product} {}", v(p)),
            Version::AtLeast(p) => write!(f, "{product} {} and later", v(p)),
            Version::Below(p) => write!(f, "{product} before {}", v(p)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str) -> Engines {
        Engines::parse(text).unwrap()
    }

    // The forms of the grammar each admit the engines they name and no others.
    #[test]
    fn forms_admit_what_they_name() {
        assert!(e("docker").admits("docker", "20.10.24"));
        assert!(!e("docker").admits("podman", "4.3.1"));
        assert!(e("docker>=23").admits("docker", "26.1.5"));
        assert!(e("docker>=23").admits("docker", "23.0.0"));
        assert!(!e("docker>=23").admits("docker", "20.10.24"));
        assert!(e("docker<26.1").admits("docker", "26.0.9"));
        assert!(!e("docker<26.1").admits("docker", "26.1.0"));
        assert!(e("docker-26.1").admits("docker", "26.1.5"));
        assert!(!e("docker-26.1").admits("docker", "26.10.1"));
        assert!(!e("!podman").admits("podman", "4.3.1"));
        assert!(e("!podman").admits("docker", "20.10.24"));
        assert!(e("docker>=23 podman").admits("podman", "4.3.1"));
        assert!(!e("docker, !docker-26.1").admits("docker", "26.1.5"));
        assert!(Engines::default().admits("podman", "4.3.1"));
        assert!(e("docker>=23").admits_kind("docker-26.1"));
        assert!(!e("docker>=23").admits_kind("docker-20.10"));
    }

    // The reader's note says the same as the attribute, in words.
    #[test]
    fn note_in_words() {
        assert_eq!(e("docker>=23").note().unwrap(), "On Docker 23 and later");
        assert_eq!(e("!podman").note().unwrap(), "Not on Podman");
        assert_eq!(e("docker").note().unwrap(), "On Docker");
        assert_eq!(
            e("docker<26 podman-4.3").note().unwrap(),
            "On Docker before 26 or Podman 4.3"
        );
        assert_eq!(
            e("docker !docker-26.1").note().unwrap(),
            "On Docker; not on Docker 26.1"
        );
        assert_eq!(Engines::default().note(), None);
    }

    // A form outside the grammar is an error naming it and the forms there are.
    #[test]
    fn unknown_forms_are_errors() {
        for bad in [
            "moby",
            "docker>23",
            "docker>=x",
            "docker-",
            "!",
            "docker 26",
        ] {
            let err = Engines::parse(bad).unwrap_err();
            assert!(err.contains("unknown form"), "{bad}: {err}");
        }
        assert!(Engines::parse(" ").unwrap_err().contains("no engine named"));
    }
}
